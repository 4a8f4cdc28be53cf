"""An API outage with cameras streaming: every acked frame reaches the API once it is back, live
frames first (the live view is fresh again within seconds), then the outage's frames as late
backfill; none is dropped by the live window. Issue 19, item 3.

Real processes: daphne, `rqworker proctoring`, a recording API, three token cameras at 2 fps.
The outage lasts BACKFILL_OUTAGE_S seconds (20 here; 60 by hand) with a live window of
BACKFILL_MAX_AGE seconds (5 here, so that the outage's frames are late; 30 in production):

    BACKFILL_OUTAGE_S=60 BACKFILL_MAX_AGE=30 pytest tests/faults/test_outage_backfill.py -s
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rq.registry import FailedJobRegistry

from exams.models import Attempt
from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from proctoring.ops import failed_jobs
from tests.faults.camera import Camera, streaming_threads
from tests.support import Reply, stale_count, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CAMERAS, FPS = 3, 2
OUTAGE = float(os.environ.get("BACKFILL_OUTAGE_S", "20"))
MAX_AGE = float(os.environ.get("BACKFILL_MAX_AGE", "5"))
COOLDOWN = 10  # the breaker's default: the API's return is seen within one cooldown
API_DELAY = 0.2  # seconds per API answer; with 4 threads the backfill takes a while
FRESH = 2.0  # seconds from ack to the API that count as a fresh live view


@pytest.mark.timeout(int(OUTAGE) * 4 + 240)
def test_after_an_outage_live_frames_go_first_then_every_acked_frame_as_backfill(
    exam, api, settings, start_worker, start_daphne, redis_conn
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 500  # room for the outage's frames (the cap holds)
    users, now = get_user_model(), timezone.now()
    attempts = [
        Attempt.objects.create(user=users.objects.create_user(f"b{i}"), exam=exam, consented_at=now)
        for i in range(CAMERAS)
    ]
    api.script(Reply(delay=API_DELAY))
    _, port = start_daphne()
    start_worker(PROCTORING_WORKER_CONCURRENCY="4", PROCTORING_MAX_FRAME_AGE=str(MAX_AGE))
    cameras = [Camera(f"ws://127.0.0.1:{port}/ws/proctoring/{a.pk}/?token={make_token(a)}") for a in attempts]
    stop = threading.Event()
    errors: list[BaseException] = []

    def acked() -> dict[str, float]:
        return {job_id: at for camera in cameras for job_id, at in list(camera.acked.items())}

    def delivered_calls() -> dict[str, tuple[float, bool]]:
        """Each job's API call that was answered 200 (made after the outage): when, and late."""
        return {
            call.headers["Idempotency-Key"]: (call.at, call.fields.get("late") == "1")
            for call in list(api.calls)
            if call.at >= back
        }

    threads = streaming_threads(cameras, stop, errors, FPS)
    back = float("inf")
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acked()) >= CAMERAS * FPS * 2 or errors, 30, "streaming")
        api.script(Reply(503, {"error": "maintenance"}))
        down = time.monotonic()
        wait_until(
            lambda: time.monotonic() - down >= OUTAGE or errors, OUTAGE + 5, "the outage", interval=0.2
        )
        back = time.monotonic()
        api.script(Reply(delay=API_DELAY))
        in_outage = {job_id for job_id, at in acked().items() if down <= at < back}
        # The cameras go on until the outage's frames are all through (or failed for good).
        registry = FailedJobRegistry("proctoring", connection=redis_conn)

        def outage_settled() -> bool:
            failed = set(registry.get_job_ids(cleanup=False))
            dropped = stale_count() > 0  # what the cut did before: fail at once
            return in_outage <= set(delivered_calls()) | failed or bool(errors) or dropped

        wait_until(outage_settled, OUTAGE * 2 + 60, "the outage's frames through", interval=0.5)
        assert stale_count() == 0, "no acked frame dropped"
        # Frames that failed for good during the outage (the breaker's probes spent their
        # attempts): an operator retries them, and they are delivered, late.
        failed_for_good = sorted(set(registry.get_job_ids(cleanup=False)) & set(acked()))
        for job_id in failed_for_good:
            assert failed_jobs.retry(job_id)
        wait_until(lambda: set(failed_for_good) <= set(delivered_calls()), 60, "the retried frames delivered")
        wait_until(lambda: len(acked()) >= len(in_outage) + CAMERAS * FPS * 5 or errors, 60, "streaming on")
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        sent = acked()
        wait_until(lambda: set(sent) <= set(delivered_calls()) | set(_before(api, down)), 60, "all delivered")
    finally:
        stop.set()
        for camera in cameras:
            camera.close()

    calls = delivered_calls()
    live_after = {job_id: at for job_id, at in sent.items() if at >= back}
    latency = sorted((at, calls[job_id][0] - at) for job_id, at in live_after.items())
    first_live = min(calls[job_id][0] for job_id in live_after) - back
    # Fresh again: from then on every frame reaches the API within FRESH seconds of its ack.
    last_slow = max((at for at, took in latency if took > FRESH), default=back)
    after_fresh = [took for at, took in latency if at > last_slow]
    fresh_again = min(at + took for at, took in latency if at > last_slow) - back
    late_outage = sum(1 for job_id in in_outage if calls[job_id][1])
    backfill_last = max(calls[job_id][0] for job_id in in_outage) - back
    rows = FrameResult.objects.filter(job_id__in=list(sent))
    # The API's last calls are answered before their rows are written (the writer batches them
    # off the job's thread): every acked frame stored, within a bounded wait.
    wait_until(lambda: rows.count() >= len(sent), 30, "every acked frame stored")
    print(
        f"\nAPI down {OUTAGE:.0f}s, live window {MAX_AGE:.0f}s, {CAMERAS} cameras at {FPS} fps, "
        f"4 worker threads, API {API_DELAY * 1000:.0f} ms a frame: {len(sent)} acked, "
        f"{len(in_outage)} during the outage, {rows.count()} stored ({rows.filter(late=True).count()} late), "
        f"{stale_count()} expired, {len(failed_for_good)} failed for good during it and retried.\n"
        f"First frame through {first_live:.1f}s after the API's return (the breaker's probe); live view "
        f"fresh again (from then on every frame at the API within {FRESH:.0f}s of its ack) "
        f"{fresh_again:.1f}s after it, then median {statistics.median(after_fresh):.2f}s, "
        f"max {max(after_fresh):.2f}s; the outage's frames ({late_outage} sent late) all through "
        f"{backfill_last:.1f}s after the return."
    )
    assert stale_count() == 0, "no acked frame dropped"
    assert rows.count() == len(sent), "every acked frame stored"
    # The probe (one cooldown), then the frames still inside the live window, at >= 10 frames/s net.
    assert fresh_again < COOLDOWN + MAX_AGE * CAMERAS * FPS / 10 + 5
    assert late_outage > 0
    assert backfill_last > fresh_again, "live first, then the backfill"


def _before(api, down: float) -> dict[str, float]:
    """Frames delivered before the outage began."""
    return {call.headers["Idempotency-Key"]: call.at for call in list(api.calls) if call.at < down}
