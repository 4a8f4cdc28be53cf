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
