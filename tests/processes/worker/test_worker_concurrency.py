"""`rqworker proctoring` runs many jobs at once, keeps RQ's registries right, and a warm shutdown
finishes the jobs in flight without losing the queued ones."""

from __future__ import annotations

import signal

import pytest
from rq.registry import StartedJobRegistry

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def enqueue_many(attempt, count: int) -> list[str]:
    frame = parse_image(jpeg_bytes(), 1 << 20)
    client = str(attempt.pk)
    return [enqueue.enqueue_frame(client, client, seq, frame) for seq in range(1, count + 1)]


def test_worker_runs_up_to_its_concurrency_and_holds_no_extra_job(
    attempt, api, start_worker, redis_conn, settings
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100
    api.block()
    # No thread kept for sparse clients (test_fairness.py): all five go to this one client.
    start_worker(PROCTORING_WORKER_CONCURRENCY="5", PROCTORING_FAIR_RESERVE_PERCENT="0")
    job_ids = enqueue_many(attempt, 8)
    wait_until(lambda: len(api.calls) == 5, 20, "five API calls in flight at once")
    assert len(StartedJobRegistry("proctoring", connection=redis_conn)) == 5
    assert redis_conn.llen("rq:queue:proctoring") == 3, "the other three wait in the queue, not in the worker"

    api.release()
    wait_until(lambda: FrameResult.objects.count() == 8, 30, "all eight delivered")
    keys = [call.headers["Idempotency-Key"] for call in api.calls]
    assert sorted(keys) == sorted(job_ids), "each frame delivered exactly once"
    wait_until(
        lambda: len(StartedJobRegistry("proctoring", connection=redis_conn)) == 0, 10, "registry empty"
    )


def test_warm_shutdown_finishes_jobs_in_flight_and_leaves_the_rest_queued(
    attempt, api, start_worker, redis_conn, settings
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100
    api.block()
    worker = start_worker(PROCTORING_WORKER_CONCURRENCY="3")
    job_ids = enqueue_many(attempt, 5)
    wait_until(lambda: len(api.calls) == 3, 20, "three API calls in flight")

    worker.popen.send_signal(signal.SIGTERM)
    wait_until(lambda: "warm shut down requested" in worker.log(), 10, "the worker saw SIGTERM")
    assert worker.popen.poll() is None, "it waits for the jobs in flight"
    api.release()
    assert worker.popen.wait(30) == 0

    delivered = set(FrameResult.objects.values_list("job_id", flat=True))
    assert delivered == {call.headers["Idempotency-Key"] for call in api.calls}
    assert len(delivered) == 3
    assert len(StartedJobRegistry("proctoring", connection=redis_conn)) == 0
    queued = {job_id.decode() for job_id in redis_conn.lrange("rq:queue:proctoring", 0, -1)}
    assert queued == set(job_ids) - delivered, "jobs not started stay queued for the next worker"
