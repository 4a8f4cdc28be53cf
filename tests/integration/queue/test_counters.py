"""Per-client counts (proctoring/queue/counters.py) against a scan of RQ's real queue and registries,
through every transition a frame job makes: with a real worker process, and as a property over
random sequences of operations run by the worker's own code in this process.

Here the tests that need no process;
the others are in tests/processes/queue/test_counters.py."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from rq.job import Job, JobStatus

from exams.models import Attempt, Exam
from proctoring.core.frames import parse_image
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from proctoring.worker import intake
from tests.support import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True)]

FRAME = jpeg_bytes(32, 24)


@pytest.fixture
def clients(user: Any, exam: Exam) -> list[str]:
    """Three exam attempts; a client is an attempt (results are stored against it)."""
    return [str(Attempt.objects.create(user=user, exam=exam).pk) for _ in range(3)]


def enqueue(client: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(FRAME, 1 << 20))


def take_one(redis_conn: redis.Redis) -> None:
    queue = policy.get_queue()
    intake.take(redis_conn, queue.key, queue.started_job_registry.key, "rq:worker:w", "w", 1)


def test_a_new_job_names_its_frame_in_its_hash_and_needs_no_description(
    redis_conn: redis.Redis, clients: list[str]
) -> None:
    job_id = enqueue(clients[0], 5)
    key = Job.key_for(job_id)
    assert redis_conn.hmget(key, ["client", "seq"]) == [clients[0].encode(), b"5"]
    redis_conn.hset(key, "description", "renamed")
    assert counters.frame_of(Job.fetch(job_id, connection=redis_conn)) == (clients[0], 5)
    assert counters.frame_of(counters.FrameJob.fetch(job_id, connection=redis_conn)) == (clients[0], 5)
    take_one(redis_conn)  # the take script finds the client's counts by the `client` field
    assert counters.read(clients[:1])[clients[0]]["running"] == 1


def test_a_job_enqueued_before_the_frame_fields_existed_is_named_by_its_description(
    redis_conn: redis.Redis, clients: list[str]
) -> None:
    job_id = enqueue(clients[0], 6)
    redis_conn.hdel(Job.key_for(job_id), "client", "seq")
    assert counters.frame_of(Job.fetch(job_id, connection=redis_conn)) == (clients[0], 6)
    assert counters.frame_of(counters.FrameJob.fetch(job_id, connection=redis_conn)) == (clients[0], 6)
    take_one(redis_conn)
    assert counters.read(clients[:1])[clients[0]]["running"] == 1


def test_reconcile_ends_a_job_rq_failed_without_us(redis_conn: redis.Redis, clients: list[str]) -> None:
    # A worker killed mid-job: RQ's cleanup fails the job without running our callback.
    job_id = enqueue(clients[0], 1)
    queue = policy.get_queue()
    intake.take(redis_conn, queue.key, queue.started_job_registry.key, "rq:worker:w", "w", 1)
    assert counters.read(clients[:1])[clients[0]]["running"] == 1
    Job.fetch(job_id, connection=redis_conn).set_status(JobStatus.FAILED)
    assert counters.reconcile(clients) == 1
    figures = counters.read(clients[:1])[clients[0]]
    assert (figures["running"], figures["failed"]) == (0, 1)
    assert redis_conn.zcard(keys.client_pending(clients[0])) == 0, "its slot is free again"
    assert redis_conn.zscore(keys.failed_kind("AbandonedJobError"), job_id) is not None
