"""Erasure (proctoring/results/erasure.py, proctoring/queue/erasure.py): an attempt deleted in any
way (`manage.py proctoring_erase`, the admin, the ORM, its user's delete) leaves no row, no
snapshot file and no Redis key or value naming it, and nothing else changes. Issue 18, finding 6."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from rq import SimpleWorker

from exams.models import Attempt, Exam
from proctoring.core.exceptions import ApiError, ApiRejected, ApiUnavailable
from proctoring.core.frames import FrameMeta, parse_image
from proctoring.models import Finding, FrameResult, Incident
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import policy
from proctoring.results import writer
from proctoring.store import keys, rq_internals, shards
from proctoring.store.connections import get_redis
from proctoring.worker import intake, job_context, outcomes, successes
from tests.support import jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = jpeg_bytes()


@pytest.fixture(autouse=True)
def setup(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "snapshots")
    settings.PROCTORING_JOB_ATTEMPTS = 1  # an outage fails a frame for good at once


def client(attempt: Attempt) -> str:
    return str(attempt.pk)


def take(connection: redis.Redis, name: str) -> tuple[SimpleWorker, intake.Taken]:
    """The next job, taken by a registered worker as `ProctoringWorker` takes it."""
    queue = policy.get_queue()
    worker = SimpleWorker([queue], connection=connection, name=name)
    worker.register_birth()
    [taken] = intake.take(connection, queue.key, queue.started_job_registry.key, worker.key, name, 1).taken
    return worker, taken


def fail(attempt: Attempt, error: ApiError, seq: int = 1) -> str:
    """A frame finally failed through RQ's failure path: its image kept after an outage, cut
    after a refusal (which counts among the client's refusals)."""
    job_id = enqueuing.enqueue_frame(client(attempt), client(attempt), seq, parse_image(IMAGE, 1 << 20))
    queue = policy.get_queue()
    worker, taken = take(queue.connection, f"fail-{job_id}")
    assert taken.job.id == job_id
    try:
        raise error
    except ApiError:
        rq_internals.finalize_failure(worker, taken.job, queue, taken.execution, sys.exc_info())
    return job_id


def fail_for_an_outage(attempt: Attempt) -> str:
    return fail(attempt, ApiUnavailable("the API answered 503", status=503))


def succeed(taken: intake.Taken, write: Callable[[], None]) -> None:
    """Ends a taken job as a batching worker does: `write` (the job's own outcome) deferred to
    its success, recorded in one batch."""
    job_context.begin_job(taken.job.id, None)
    write()
    finisher = successes.Finisher(get_redis(), "rq:worker:finisher")
    started = policy.get_queue().started_job_registry.key
    finisher.add(successes.Succeeded(taken.job, taken.execution, started, job_context.end_job()))
    finisher.close()


def deliver_flagged(attempt: Attempt, seq: int = 2) -> str:
    """A frame delivered with a flag: its row, finding, incident and snapshot file, and its
    client's hint, priority window, thumbnail and freshness in Redis."""
    job_id = enqueuing.enqueue_frame(client(attempt), client(attempt), seq, parse_image(IMAGE, 1 << 20))
    _, taken = take(get_redis(), f"deliver-{job_id}")
    assert taken.job.id == job_id
    now = datetime.now(UTC)
    meta = FrameMeta(client(attempt), client(attempt), seq, now, now, "image/jpeg")
    writer.store_result(meta, job_id, {"flags": ["no_face"]}, IMAGE).result(timeout=30)
    succeed(
        taken,
        lambda: outcomes.finish_delivered(
            client(attempt), job_id, flagged=True, keep_latest=True, hint="face_not_visible", times=(5, 6, 7)
        ),
    )
    return job_id


def populate(*attempts: Attempt) -> None:
    """Each attempt: a failed frame with its image kept, a refused one, a delivered flagged frame
    (an incident with a snapshot), two frames queued, one held back, and an open camera socket."""
    for attempt in attempts:
        fail_for_an_outage(attempt)
    for attempt in attempts:
        deliver_flagged(attempt)
    for attempt in attempts:  # after the delivery, which clears the refusals in a row
        fail(attempt, ApiRejected("the API answered 422", status=422), seq=6)
    queue_more(*attempts)


def queue_more(*attempts: Attempt) -> None:
    for attempt in attempts:
        for seq in (3, 4):
            enqueuing.enqueue_frame(client(attempt), client(attempt), seq, parse_image(IMAGE, 1 << 20))
        enqueuing.enqueue_frame(client(attempt), client(attempt), 5, parse_image(IMAGE, 1 << 20), delay=600)
        get_redis().zadd(keys.connections_of_attempt(client(attempt)), {"socket-1": 4102444800})


def contents(connection: Any, key: bytes) -> list[Any]:
    kind = connection.type(key)
    if kind == b"string":
        return [connection.get(key) or b""]
    if kind == b"hash":
        return [part for item in connection.hgetall(key).items() for part in item]
    if kind == b"list":
        return list(connection.lrange(key, 0, -1))
    if kind == b"set":
        return sorted(connection.smembers(key))
    if kind == b"zset":
        return list(connection.zrange(key, 0, -1))
    if kind == b"stream":
        return [part for _, fields in connection.xrange(key) for item in fields.items() for part in item]
    return []


def everything(connection: redis.Redis | None = None) -> dict[bytes, list[bytes]]:
    connection = connection or get_redis()
    return {key: contents(connection, key) for key in connection.scan_iter("*", count=1000)}


def naming(text: str, connection: redis.Redis | None = None) -> list[bytes]:
    """Every key whose name or value mentions `text`."""
    needle = text.encode()
    return sorted(
        key
        for key, values in everything(connection).items()
        if needle in key or any(needle in value for value in values)
    )


def own_keys(attempt: Attempt) -> dict[bytes, list[bytes]]:
    """The keys of the attempt and its jobs, with their contents."""
    job_ids = {
        key.decode().rsplit(":", 1)[-1].encode()
        for key in naming(client(attempt))
        if key.startswith(b"rq:job:") or key.startswith(keys.frame("").encode())
    }
    return {
        key: values
        for key, values in everything().items()
        if client(attempt).encode() in key or any(job_id in key for job_id in job_ids)
    }


def files(attempt_id: str, root: str) -> list[Path]:
    return sorted((Path(root) / attempt_id).glob("*"))


def rows(attempt_id: str) -> list[int]:
    """The attempt's own row, its frame results, findings and incidents. (An instance deleted
    through the ORM loses its pk, even when the delete is rolled back: tests keep the id.)"""
    return [
        Attempt.objects.filter(pk=attempt_id).count(),
        FrameResult.objects.filter(attempt_id=attempt_id).count(),
        Finding.objects.filter(attempt_id=attempt_id).count(),
        Incident.objects.filter(attempt_id=attempt_id).count(),
    ]


@pytest.fixture
def other(db: None) -> Attempt:
    """Another person's attempt at another exam."""
    someone = get_user_model().objects.create_user("other-taker")
    geometry = Exam.objects.create(slug="geometry", title="Geometry")
    return Attempt.objects.create(user=someone, exam=geometry, consented_at=timezone.now())


def failed_image_counts() -> tuple[int, Any, int]:
    connection = get_redis()
    total = int(connection.get(keys.failed_image_total()) or 0)
    return total, connection.hgetall(keys.failed_image_client_bytes()), connection.zcard(keys.failed_images())


def assert_erased(attempt_id: str, other: Attempt, other_before: dict[bytes, list[bytes]], root: str) -> None:
    assert uuid.UUID(attempt_id)
    assert rows(attempt_id) == [0, 0, 0, 0]
    assert files(attempt_id, root) == [] and not (Path(root) / attempt_id).exists()
    assert naming(attempt_id) == [], "no Redis key or value names the erased attempt"
    # The other attempt is untouched: its rows, its snapshot, its keys and jobs, its counts.
    assert rows(client(other)) == [1, 1, 1, 1]
    assert len(files(client(other), root)) == 1
    assert own_keys(other) == other_before
    total, per_client, kept = failed_image_counts()
    assert per_client == {client(other).encode(): str(total).encode()} and total > 0 and kept == 1
    assert get_redis().llen(policy.get_queue().key) == 2


def delete_in_admin(attempt: Attempt, client_: Any) -> None:
    staff = get_user_model().objects.create_user("ops", is_staff=True, is_superuser=True)
    client_.force_login(staff)
    response = client_.post(f"/admin/exams/attempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:500]


ERASERS: dict[str, Callable[[Attempt, Any], object]] = {
    "command": lambda attempt, _: call_command("proctoring_erase", "--attempt", client(attempt)),
    "orm": lambda attempt, _: attempt.delete(),
    "admin": delete_in_admin,
    "user": lambda attempt, _: attempt.user.delete(),
    "exam": lambda attempt, _: attempt.exam.delete(),
    "user-command": lambda attempt, _: call_command("proctoring_erase", "--user", attempt.user.username),
}


@pytest.mark.parametrize("how", list(ERASERS))
def test_an_erased_attempt_leaves_no_row_file_or_redis_key_and_the_other_is_untouched(
    how: str, attempt: Attempt, other: Attempt, settings: Any, client: Any
) -> None:
    attempt_id = str(attempt.pk)
    populate(attempt, other)
    assert rows(attempt_id) == [1, 1, 1, 1] and len(files(attempt_id, settings.MEDIA_ROOT)) == 1
    assert len(naming(attempt_id)) > 10
    assert get_redis().exists(keys.client_refusals(attempt_id), keys.client_times(attempt_id)) == 2
    other_before = own_keys(other)
    ERASERS[how](attempt, client)
    assert_erased(attempt_id, other, other_before, settings.MEDIA_ROOT)


def test_the_command_says_what_it_removed(attempt: Attempt, other: Attempt, capsys: Any) -> None:
    populate(attempt, other)
    kept_bytes = int(get_redis().hget(keys.failed_image_client_bytes(), client(attempt)) or 0)
    call_command("proctoring_erase", "--attempt", client(attempt))
    out = capsys.readouterr().out
    assert f"attempt {attempt.pk}: removed" in out
    assert "exams.Attempt 1" in out and "proctoring.FrameResult 1" in out and "proctoring.Incident 1" in out
    assert "snapshot files: 1" in out
    # Its jobs: the two failed, the three waiting (one held back) and none delivered (gone).
    assert "Redis: 5 job(s), 5 frame(s)" in out and f"{kept_bytes} byte(s)" in out


def test_a_dry_run_says_what_would_go_and_changes_nothing(
    attempt: Attempt, other: Attempt, settings: Any, capsys: Any
) -> None:
    populate(attempt, other)
    attempt_id = str(attempt.pk)
    before = (everything(), rows(attempt_id), files(attempt_id, settings.MEDIA_ROOT))
    call_command("proctoring_erase", "--attempt", attempt_id, "--dry-run")
    call_command("proctoring_erase", "--user", attempt.user.username, "--dry-run")
    out = capsys.readouterr().out
    assert "would remove" in out and "removed" not in out.replace("would remove", "")
    assert "Redis: 5 job(s), 5 frame(s)" in out and "auth.User 1" in out
    assert (everything(), rows(attempt_id), files(attempt_id, settings.MEDIA_ROOT)) == before


def test_an_unknown_attempt_or_user_is_refused_by_name(db: None) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(CommandError, match=f"no attempt with id '{missing}'"):
        call_command("proctoring_erase", "--attempt", missing)
    with pytest.raises(CommandError, match="no attempt with id 'not-a-uuid'"):
        call_command("proctoring_erase", "--attempt", "not-a-uuid")
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("proctoring_erase", "--user", "nobody")


def test_keep_account_erases_the_attempts_and_keeps_the_user(attempt: Attempt, other: Attempt) -> None:
    populate(attempt)
    call_command("proctoring_erase", "--user", attempt.user.username, "--keep-account")
    assert get_user_model().objects.filter(pk=attempt.user.pk).exists()
    assert rows(client(attempt)) == [0, 0, 0, 0] and naming(client(attempt)) == []


def test_a_rolled_back_delete_keeps_the_evidence(attempt: Attempt, settings: Any) -> None:
    attempt_id = str(attempt.pk)
    populate(attempt)
    before = (everything(), files(attempt_id, settings.MEDIA_ROOT))
    with pytest.raises(RuntimeError), transaction.atomic():
        attempt.delete()
        raise RuntimeError("changed my mind")
    assert rows(attempt_id) == [1, 1, 1, 1]
    assert (everything(), files(attempt_id, settings.MEDIA_ROOT)) == before


def test_an_attempt_is_erased_on_the_shard_that_holds_it(
    attempt: Attempt, other: Attempt, settings: Any
) -> None:
    # Two shards: two databases of the suite's Redis, as independent as two servers to the code.
    base = settings.REDIS_URL.rsplit("/", 1)[0] if settings.REDIS_URL.count("/") > 2 else settings.REDIS_URL
    settings.REDIS_SHARDS = [f"{base}/1", f"{base}/2"]
    for step in (fail_for_an_outage, deliver_flagged, queue_more):
        for one in (attempt, other):
            with shards.client_shard(client(one)):
                step(one)
    mine = redis.Redis.from_url(shards.of_client(client(attempt)))
    assert naming(client(attempt), mine)
    call_command("proctoring_erase", "--attempt", client(attempt))
    for url in shards.urls():
        assert naming(client(attempt), redis.Redis.from_url(url)) == []
    theirs = redis.Redis.from_url(shards.of_client(client(other)))
    assert naming(client(other), theirs)


@pytest.mark.parametrize("stored_first", [False, True], ids=["answer-after-erasure", "answer-before-erasure"])
def test_a_frame_running_while_its_attempt_is_erased_brings_nothing_back(
    stored_first: bool, attempt: Attempt, other: Attempt, settings: Any
) -> None:
    """A worker is running one of the attempt's frames when it is erased: its answer is dropped
    (or, stored just before, deleted with the attempt), and nothing its success writes names the
    attempt once the erasure is done."""
    attempt_id = str(attempt.pk)
    for one in (attempt, other):
        fail_for_an_outage(one)
    for one in (attempt, other):
        deliver_flagged(one)
    connection = get_redis()
    job_id = enqueuing.enqueue_frame(attempt_id, attempt_id, 9, parse_image(IMAGE, 1 << 20))
    _, taken = take(connection, "runs-it")
    assert taken.job.id == job_id
    queue_more(attempt, other)
    now = datetime.now(UTC)
    meta = FrameMeta(attempt_id, attempt_id, 9, now, now, "image/jpeg")
    saved = writer.store_result(meta, job_id, {"flags": ["no_face"]}, IMAGE) if stored_first else None
    if saved is not None:
        saved.result(timeout=30)
    ended = threading.Event()
    errors: list[BaseException] = []

    def worker_ends_the_job() -> None:
        try:
            # The erasure has taken the job's hash (after the delete's commit): the API answers now.
            wait_until(lambda: not connection.exists(f"rq:job:{job_id}"), 30, "the erasure's first pass")
            answer = saved or writer.store_result(meta, job_id, {"flags": ["no_face"]}, IMAGE)
            succeed(
                taken,
                lambda: outcomes.finish_delivered(
                    attempt_id,
                    job_id,
                    flagged=True,
                    keep_latest=True,
                    hint="face_not_visible",
                    times=(5, 6, 7),
                    kept=lambda: answer.result(timeout=30) is not False,
                ),
            )
        except BaseException as exc:  # the test must hear of it
            errors.append(exc)
        finally:
            ended.set()

    threading.Thread(target=worker_ends_the_job, daemon=True).start()
    dropped_before = int(connection.hget(keys.totals(), keys.RESULTS_DROPPED_ERASED) or 0)
    from proctoring.results import erasure

    report = erasure.erase_attempt(attempt)
    assert ended.wait(30) and not errors, errors
    assert report.redis.left_running == []
    assert rows(attempt_id) == [0, 0, 0, 0] and files(attempt_id, settings.MEDIA_ROOT) == []
    assert naming(attempt_id) == []
    dropped = int(connection.hget(keys.totals(), keys.RESULTS_DROPPED_ERASED) or 0) - dropped_before
    assert dropped == (0 if stored_first else 1)


def test_survey_and_erase_agree(attempt: Attempt, other: Attempt) -> None:
    from proctoring.queue import erasure as redis_erasure

    populate(attempt, other)
    surveyed = redis_erasure.survey(client(attempt))
    erased = redis_erasure.erase(client(attempt))
    assert (surveyed.jobs, surveyed.frames, surveyed.keys, surveyed.failed_image_bytes) == (
        erased.jobs,
        erased.frames,
        erased.keys,
        erased.failed_image_bytes,
    )
    assert erased.jobs == 5 and erased.keys >= 8


def test_an_erasure_that_cannot_reach_redis_erases_the_rest_and_the_command_finishes_it(
    attempt: Attempt, other: Attempt, settings: Any, caplog: Any
) -> None:
    attempt_id = str(attempt.pk)
    populate(attempt, other)
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    attempt.delete()
    with pytest.raises(CommandError, match="Redis cannot be reached .*: nothing was erased"):
        call_command("proctoring_erase", "--attempt", client(other))
    settings.REDIS_URL = reachable
    assert rows(attempt_id) == [0, 0, 0, 0] and files(attempt_id, settings.MEDIA_ROOT) == []
    assert naming(attempt_id), "its Redis data is left, and said to be"
    assert f"run `manage.py proctoring_erase --attempt {attempt_id}` once Redis answers" in caplog.text
    call_command("proctoring_erase", "--attempt", attempt_id, "--dry-run")
    assert naming(attempt_id)
    call_command("proctoring_erase", "--attempt", attempt_id)
    assert naming(attempt_id) == []
    assert rows(client(other)) == [1, 1, 1, 1]
    with pytest.raises(CommandError, match="no attempt with id"):
        call_command("proctoring_erase", "--attempt", attempt_id)
