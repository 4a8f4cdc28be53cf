"""A worker killed with SIGKILL while the API call of a job is in flight: the job is seen
abandoned once its lease runs out, retried by another worker's scheduler, and delivered; never
silently lost."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from proctoring.queue import counters, enqueue
from tests.faults.camera import Camera, streaming_threads
from tests.support import Reply, jpeg_bytes, stale_count, wait_until

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


CAMERAS = 3
FPS = 4  # per camera: the exam page's rate under the project's defaults
RECOVERY_BOUND = 25.0  # seconds from the new worker's start: the lease (15 s), a look, a backoff


def _running(redis_conn) -> set[str]:
    """The jobs in the started registry (RQ's entries are `<job id>:<execution id>`)."""
    return {entry.decode().split(":")[0] for entry in redis_conn.zrange("rq:wip:proctoring", 0, -1)}


def _scheduler_pid(redis_conn) -> int:
    """The pid of the scheduler holding the queue's lock (RQ keeps it in the scheduler's hash)."""
    holder = redis_conn.get("rq:scheduler-lock:proctoring")
    assert holder, "no scheduler holds the queue's lock"
    return int(redis_conn.hget(f"rq:scheduler:{holder.decode()}", "pid"))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("killed", ["worker", "worker-and-scheduler"])
def test_a_killed_lone_worker_loses_no_acked_frame_and_its_jobs_are_retried_within_20s(
    killed, exam, api, start_worker, start_daphne, redis_conn
):
    """The project's defaults (lease 15 s, stale cut 30 s, 64 threads), 3 cameras at 4 frames/s,
    an API answering in 300 ms; the only worker killed with SIGKILL mid-stream (alone, or with
    its scheduler process: the dead scheduler's lock then has no one to release it), a new one
    started about a second later. Every acked frame reaches the API, and the jobs that were
    running at the kill are retried within ~20 s of the new worker's start (not after the dead
    scheduler's 61 s lock, by which time they were dropped as stale)."""
    api.script(Reply(delay=0.3))
    users, now = get_user_model(), timezone.now()
    attempts = [
        Attempt.objects.create(user=users.objects.create_user(f"t{i}"), exam=exam, consented_at=now)
        for i in range(CAMERAS)
    ]
    _, port = start_daphne()
    victim = start_worker()
    cameras = [Camera(f"ws://127.0.0.1:{port}/ws/proctoring/{a.pk}/?token={make_token(a)}") for a in attempts]
    stop = threading.Event()
    errors: list[BaseException] = []

    def acked() -> set[str]:
        return {job_id for camera in cameras for job_id in list(camera.acked)}

    def called_after(at: float) -> dict[str, float]:
        """Each job's first API call after `at` (monotonic)."""
        first: dict[str, float] = {}
        for call in list(api.calls):
            key = call.headers["Idempotency-Key"]
            if call.at > at and key not in first:
                first[key] = call.at
        return first

    threads = streaming_threads(cameras, stop, errors, FPS)
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: all(len(c.acked) >= 8 for c in cameras) or errors, 30, "streaming")
        wait_until(lambda: _running(redis_conn) or errors, 10, "jobs running")
        scheduler = _scheduler_pid(redis_conn)
        victim.popen.send_signal(signal.SIGKILL)
        if killed == "worker-and-scheduler":
            os.kill(scheduler, signal.SIGKILL)
        victim.popen.wait(10)
        killed_at = time.monotonic()
        running = _running(redis_conn)
        assert running, "no job was running at the kill"
        # About a second later (the cameras go on: 12 frames acked meanwhile), a new worker.
        before = len(acked())
        wait_until(lambda: len(acked()) >= before + CAMERAS * FPS or errors, 30, "a second of frames")
        start_worker()
        started = time.monotonic()
        retried = wait_until(
            lambda: running <= set(called_after(killed_at)) and called_after(killed_at),
            RECOVERY_BOUND + 20,
            f"the {len(running)} job(s) running at the kill retried",
        )
        recovery = max(retried[job_id] for job_id in running) - started
        after = len(acked())
        wait_until(lambda: len(acked()) >= after + 2 * CAMERAS * FPS or errors, 30, "streaming on")
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        sent = acked()
        wait_until(lambda: sent <= set(called_after(0)), 60, "every acked frame delivered to the API")
    finally:
        stop.set()
        for camera in cameras:
            camera.close()
    print(
        f"killed {killed}: {len(sent)} acked, all reached the API, {stale_count()} stale; "
        f"{len(running)} job(s) running at the kill retried {recovery:.1f}s after the new worker's "
        f"start ({started - killed_at:.1f}s after the kill)"
    )
    assert recovery < RECOVERY_BOUND
