"""A worker killed with SIGKILL while the API call of a job is in flight: the job is seen
abandoned once its lease runs out, retried by another worker's scheduler, and delivered; never
silently lost."""

from __future__ import annotations

import signal
import time

import pytest

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import counters, enqueue
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LEASE = 4  # seconds: PROCTORING_JOB_LEASE_SECONDS for this test's workers


def test_a_job_whose_worker_was_killed_mid_call_is_retried_within_its_lease_and_delivered(
    attempt, api, start_worker, redis_conn
):
    client = str(attempt.pk)
    api.block()  # the victim's call hangs at the API
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    victim = start_worker(
        "--without-scheduler", PROCTORING_WORKER_CONCURRENCY="1", PROCTORING_JOB_LEASE_SECONDS=str(LEASE)
    )
    wait_until(lambda: len(api.calls) == 1, 30, "the job's API call in flight")
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(10)
    killed_at = time.monotonic()
    api.release()
    start_worker(PROCTORING_JOB_LEASE_SECONDS=str(LEASE))  # with its scheduler, which looks every 2 s
    wait_until(lambda: len(api.calls) == 2, 60, "the job run again")
    retried_after = api.calls[1].at - killed_at
    assert api.calls[1].headers["Idempotency-Key"] == job_id, "the same job, the same key"
    wait_until(lambda: FrameResult.objects.filter(job_id=job_id).exists(), 30, "delivered")
    print(f"abandoned job retried {retried_after:.1f}s after the kill (lease {LEASE}s, backoff 2s)")
    # Lease + the scheduler's look (2 s) + the retry's backoff (2 s), with room to spare.
    assert retried_after < LEASE + 2 + 2 + 5

    def counted() -> tuple[int, int]:
        figures = counters.read([client])[client]
        return figures["running"], figures["completed_today"]

    wait_until(lambda: counted() == (0, 1), 30, "counted once, as completed")


def test_a_live_worker_keeps_its_long_job_past_the_lease(attempt, api, settings, start_worker):
    settings.PROCTORING_API_TIMEOUT = 60  # the call outlasts three leases without timing out
    client = str(attempt.pk)
    api.block()
    enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    start_worker(PROCTORING_WORKER_CONCURRENCY="1", PROCTORING_JOB_LEASE_SECONDS=str(LEASE))
    wait_until(lambda: len(api.calls) == 1, 30, "in flight")
    # Three leases long: a worker that renews keeps it (no second call, no abandonment).
    deadline = time.monotonic() + 3 * LEASE
    while time.monotonic() < deadline:
        assert len(api.calls) == 1, "taken away from a live worker"
        time.sleep(0.2)
    api.release()
    wait_until(lambda: FrameResult.objects.count() == 1, 30, "delivered once")
    assert len(api.calls) == 1
