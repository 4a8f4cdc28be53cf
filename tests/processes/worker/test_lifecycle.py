"""`proctoring.worker.intake` and `proctoring.worker.successes` write, in batches, what RQ's worker
writes when it starts a job and when a job kept 0 s succeeds. RQ's own APIs, and a stock
`SimpleWorker` doing the same, are the judge.

Here the tests that start real processes;
the others are in tests/integration/worker/test_lifecycle.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from rq import Worker
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.utils import as_text

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import policy
from proctoring.store import keys
from tests.support import Process, RecordingApi, Reply, jpeg_bytes, wait_until

LEFTOVER_PATTERNS = ("rq:job:*", "rq:execution:*", "rq:executions:*")
StartWorker = Callable[..., Process]


def enqueue(client: str, count: int) -> list[str]:
    frame = parse_image(jpeg_bytes(), 1 << 20)
    return [enqueuing.enqueue_frame(client, client, seq, frame) for seq in range(1, count + 1)]


def leftovers(connection: redis.Redis) -> list[bytes]:
    return [key for pattern in LEFTOVER_PATTERNS for key in connection.scan_iter(pattern)]


def worker_index(connection: redis.Redis, name: str) -> set[str]:
    return {as_text(member) for member in connection.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(name))}


def workers_counts(queue: Queue) -> tuple[int, int]:
    workers = Worker.all(queue=queue)
    return sum(w.successful_job_count for w in workers), sum(w.failed_job_count for w in workers)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_leaves_nothing_of_delivered_frames(
    attempt: Any,
    api: RecordingApi,
    start_worker: StartWorker,
    redis_conn: redis.Redis,
    settings: Any,
) -> None:
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100
    client = str(attempt.pk)
    process = start_worker(PROCTORING_WORKER_CONCURRENCY="4")
    job_ids = enqueue(client, 12)
    queue = policy.get_queue()

    wait_until(lambda: FrameResult.objects.count() == 12, 30, "all twelve delivered")
    wait_until(lambda: workers_counts(queue) == (12, 0), 10, "twelve successes booked")
    [worker] = Worker.all(queue=queue)
    assert sorted(call.headers["Idempotency-Key"] for call in api.calls) == sorted(job_ids)
    assert process.stop() == 0, process.log()

    assert leftovers(redis_conn) == []
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert redis_conn.zcard(keys.client_pending(client)) == 0
    assert not list(redis_conn.scan_iter(keys.frame("*")))
    assert redis_conn.hget(worker.key, "successful_job_count") == b"12", "still readable after its death"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failed_frame_goes_through_rqs_failure_path(
    attempt: Any, api: RecordingApi, start_worker: StartWorker, redis_conn: redis.Redis
) -> None:
    # Retries and their timing are tested in test_retries.py; here, that a job started by
    # `take` leaves no execution record behind when RQ's own code fails it.
    api.script(Reply(422, {"error": "rejected"}))
    [job_id] = enqueue(str(attempt.pk), 1)
    start_worker()
    queue = policy.get_queue()
    wait_until(lambda: job_id in FailedJobRegistry(queue=queue), 30, "job failed")
    wait_until(lambda: workers_counts(queue) == (0, 1), 10, "the failure booked")
    assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FAILED
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert not list(redis_conn.scan_iter("rq:execution:*"))
    assert ExecutionRegistry(job_id, connection=redis_conn).get_execution_ids() == []
    [worker] = Worker.all(queue=queue)
    assert worker_index(redis_conn, worker.name) == set()
    assert not FrameResult.objects.exists()
