"""The frame job's RQ writes come from a template recorded once: they must stay exactly what RQ
records for the same job, and follow the settings that shape the job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rq.job import Job

from proctoring.core.frames import FrameMeta, parse_image
from proctoring.queue import enqueue, job_template, policy
from tests.support import job_writes, jpeg_bytes

TIME_FIELDS = {"created_at", "enqueued_at"}


def meta(seq: int = 7) -> FrameMeta:
    now = datetime.now(UTC)
    return FrameMeta(
        client_id="client-a",
        attempt_id="client-a",
        seq=seq,
        captured_at=now,
        received_at=now,
        content_type="image/jpeg",
    )


def without_times(commands: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The commands with RQ's two timestamps blanked (they are the moment of recording)."""
    blanked = []
    for command in commands:
        args = list(command)
        for index in range(3, len(args), 2):
            if args[index - 1] in TIME_FIELDS:
                args[index] = "<time>"
        blanked.append(tuple(args))
    return blanked


def recorded_by_rq(frame: FrameMeta, job_id: str) -> list[tuple[Any, ...]]:
    return [command for command, _ in enqueue._job_commands(frame, job_id, enqueue._recorder())]


def test_templated_writes_are_what_rq_records_for_the_same_job() -> None:
    first = meta(seq=1)
    job_writes(first, "a" * 32, enqueue._recorder())  # records the template
    frame = meta(seq=42)
    templated = job_writes(frame, "b" * 32, enqueue._recorder())
    assert without_times(templated) == without_times(recorded_by_rq(frame, "b" * 32))
    assert ("RPUSH", "rq:queue:proctoring", "b" * 32) in templated
    stamps = [args[i] for args in templated for i in range(3, len(args), 2) if args[i - 1] in TIME_FIELDS]
    assert stamps and all(
        stamp.startswith(frame.received_at.strftime("%Y-%m-%dT%H:%M:%S")) for stamp in stamps
    )


@pytest.mark.django_db
def test_a_job_enqueued_from_the_template_reads_back_as_rq_wrote_it() -> None:
    job_id = enqueue.enqueue_frame("client-b", "client-b", 3, parse_image(jpeg_bytes(), 1 << 20))
    job = Job.fetch(job_id, connection=policy.get_queue().connection)
    assert job.func_name == "proctoring.jobs.forward_frame_job"
    assert job.description == "frame client-b#3"
    assert job.get_status() == "queued"
    assert job.enqueued_at is not None and job.created_at is not None
    assert job.result_ttl == 0
    assert job.retries_left == 2 and job.retry_intervals == [2, 4]


def test_the_template_follows_the_settings_that_shape_the_job(settings: Any) -> None:
    frame = meta()
    settings.PROCTORING_JOB_ATTEMPTS = 1  # no retries
    settings.PROCTORING_API_TIMEOUT = 3
    templated = job_writes(frame, "c" * 32, enqueue._recorder())
    assert without_times(templated) == without_times(recorded_by_rq(frame, "c" * 32))
    fields = dict(zip(templated[2][2::2], templated[2][3::2], strict=True))
    assert "retries_left" not in fields
    assert fields["timeout"] == policy.job_timeout() == 33


@pytest.mark.django_db
def test_the_enqueue_script_writes_what_rq_writes_for_the_same_job(redis_conn: Any) -> None:
    ours = enqueue.enqueue_frame("client-c", "client-c", 9, parse_image(jpeg_bytes(), 1 << 20))
    theirs = "d" * 32
    with redis_conn.pipeline(transaction=False) as pipe:
        for command in recorded_by_rq(meta_for("client-c", 9), theirs):
            pipe.execute_command(*command)
        pipe.execute()
    ours_hash, their_hash = redis_conn.hgetall(f"rq:job:{ours}"), redis_conn.hgetall(f"rq:job:{theirs}")
    for stamp in (b"created_at", b"enqueued_at"):
        assert ours_hash.pop(stamp) and their_hash.pop(stamp)
    # Beside RQ's fields, ours (proctoring/queue/counters.py): the counted state and the frame.
    assert ours_hash.pop(b"pc") == b"q"
    assert (ours_hash.pop(b"client"), ours_hash.pop(b"seq")) == (b"client-c", b"9")
    assert ours_hash == their_hash
    assert redis_conn.lrange("rq:queue:proctoring", 0, -1) == [ours.encode(), theirs.encode()]


@pytest.mark.parametrize("value", [bytes(range(256)), "ünïcode \" \\ '", 12, 604800, 2.5, b""])
def test_lua_literals_reach_redis_as_the_bytes_redis_py_sends(redis_conn: Any, value: Any) -> None:
    expected = value if isinstance(value, bytes) else str(value).encode()
    assert redis_conn.eval(f"return {job_template.lua_literal(value)}", 0) == expected


def meta_for(client_id: str, seq: int) -> FrameMeta:
    frame = meta(seq)
    return FrameMeta(
        client_id=client_id,
        attempt_id=client_id,
        seq=seq,
        captured_at=frame.captured_at,
        received_at=frame.received_at,
        content_type="image/jpeg",
    )
