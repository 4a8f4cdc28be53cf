"""A Redis written by the previous code (commit ec4004e, the flat `proctoring/` modules) is served
by this code: its queued, priority and delayed frames are delivered under their own job ids, and
its failed frame is listed, retried and delivered. Job hashes name `proctoring.jobs.*`; those
paths must keep working for as long as such jobs may exist (failed ones are kept for days)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.utils import timezone
from rq.job import Job
from rq.registry import FailedJobRegistry

from exams.models import Attempt, Exam
from proctoring.models import FrameResult
from proctoring.ops import failed_jobs
from proctoring.queue import counters
from proctoring.store import keys
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "legacy_redis.json"
# Sorted sets scored by a time: moved by as long as the fixture has been lying about.
_TIMED = ("rq:failed:", "proctoring:client:", "proctoring:clients", "proctoring:failed:kind:")


def load_legacy(connection: redis.Redis) -> dict[str, Any]:
    """Writes the fixture's keys into `connection`, times moved to now; returns the fixture."""
    fixture: dict[str, Any] = json.loads(FIXTURE.read_text())
    shift = time.time() - fixture["written_at"]

    def raw(text: str) -> bytes:
        return base64.b64decode(text)

    for key, entry in fixture["keys"].items():
        kind, value = entry["type"], entry["value"]
        if kind == "string":
            connection.set(key, raw(value))
        elif kind == "hash":
            connection.hset(key, mapping={raw(k): raw(v) for k, v in value.items()})
        elif kind == "list":
            connection.rpush(key, *[raw(item) for item in value])
        elif kind == "set":
            connection.sadd(key, *[raw(item) for item in value])
        elif kind == "zset":
            if key.startswith("rq:scheduled:"):
                scores = {raw(member): time.time() + 1 for member, _ in value}  # due at once
            else:
                moved = shift if key.startswith(_TIMED) else 0
                scores = {raw(member): score + moved for member, score in value}
            connection.zadd(key, scores)
        elif kind == "stream":
            for entry_id, fields in value:
                connection.xadd(key, {raw(k): raw(v) for k, v in fields.items()}, id=entry_id)
        else:
            raise AssertionError(f"unexpected type {kind!r} of {key!r} in {FIXTURE.name}")
        if entry["pttl"] > 0:
            connection.pexpire(key, entry["pttl"])
    return fixture


def test_the_fixture_is_what_the_previous_code_wrote() -> None:
    fixture = json.loads(FIXTURE.read_text())
    assert fixture["written_by"] == "ec4004e"
    jobs = fixture["keys"]
    for job_id in [fixture["jobs"]["failed"], fixture["jobs"]["priority"], fixture["jobs"]["delayed"]]:
        job_hash = {
            base64.b64decode(k): base64.b64decode(v) for k, v in jobs[f"rq:job:{job_id}"]["value"].items()
        }
        assert job_hash[b"description"].startswith(b"frame "), "the previous code's job description"


def test_jobs_written_by_the_previous_code_are_served(api, start_worker, redis_conn, settings) -> None:
    fixture = load_legacy(redis_conn)
    client, jobs = fixture["client"], fixture["jobs"]
    user = get_user_model().objects.create_user("legacy", password="legacy-pass-123")
    exam = Exam.objects.create(slug="legacy", title="Legacy")
    Attempt.objects.create(id=client, user=user, exam=exam, consented_at=timezone.now())
    waiting = [jobs["priority"], *jobs["queued"], jobs["delayed"]]

    # Its failed frame is listed as failed, with the kind of its error, under the old job's id.
    assert jobs["failed"] in FailedJobRegistry("proctoring", connection=redis_conn)
    assert counters.read([client])[client]["failed"] == 1
    assert Job.fetch(jobs["failed"], connection=redis_conn).func_name == "proctoring.jobs.forward_frame_job"

    # The frames are minutes or days old by now: no stale cut, every acked frame is delivered.
    # One job at a time, so that the order of the API's calls is the order of the takes.
    start_worker(PROCTORING_MAX_FRAME_AGE="0", PROCTORING_WORKER_CONCURRENCY="1")
    wait_until(
        lambda: FrameResult.objects.filter(job_id__in=waiting).count() == 4, 30, "old frames delivered"
    )
    sent = [call.headers["Idempotency-Key"] for call in api.calls]
    assert sorted(sent) == sorted(waiting), "each under its own job id, once"
    assert sent[0] == jobs["priority"], "the priority frame first"

    assert failed_jobs.retry(jobs["failed"])
    wait_until(
        lambda: FrameResult.objects.filter(job_id=jobs["failed"]).exists(), 30, "retried frame delivered"
    )
    wait_until(lambda: redis_conn.zcard(keys.client_pending(client)) == 0, 10, "every slot freed")
    figures = counters.read([client])[client]
    assert (figures["queued"], figures["running"], figures["retrying"], figures["failed"]) == (0, 0, 0, 0)
    assert not redis_conn.exists(keys.frame(jobs["failed"])), "a delivered frame's bytes go"
