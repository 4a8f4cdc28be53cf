"""The proctoring API goes down (503s) and comes back: the circuit breaker opens after a few
failures, workers stop calling the dead API (frames wait instead of burning attempts), the admin
shows the circuit open, a probe closes it once the API answers, and every frame ends delivered
or in the failed registry with its reason."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rq.registry import FailedJobRegistry

from proctoring import breaker, queues
from proctoring.frames import parse_image
from proctoring.models import FrameResult
from tests.support import Reply, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FRAMES = 10
COOLDOWN = 2


def test_a_dead_api_opens_the_circuit_and_frames_wait_then_go_through(
    attempt, api, settings, start_worker, redis_conn
):
    settings.PROCTORING_JOB_ATTEMPTS = 6  # written into each job at enqueue
    settings.PROCTORING_BACKOFF_SECONDS = 1
    settings.PROCTORING_BREAKER_THRESHOLD = 3
    api.script(Reply(503, {"error": "down"}))
    client = str(attempt.pk)
    job_ids = [
        queues.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20)) for seq in range(FRAMES)
    ]
    start_worker(
        PROCTORING_WORKER_CONCURRENCY="2",
        PROCTORING_BREAKER_THRESHOLD="3",
        PROCTORING_BREAKER_COOLDOWN=str(COOLDOWN),
    )
    wait_until(lambda: breaker.state()["open"], 30, "the circuit opens")
    opened_at = time.monotonic()
    calls_when_opened = len(api.calls)

    # The admin shows it.
    staff = get_user_model().objects.create_user("ops", password="ops-pass-123", is_staff=True)
    admin = Client()
    admin.force_login(staff)
    assert admin.get("/admin/proctoring/queue/stats.json").json()["queue"]["api_circuit"]["open"] is True
    assert (
        '<span class="value" data-figure="api_circuit">open</span>'
        in admin.get("/admin/proctoring/queue/").content.decode()
    )
    assert "proctoring_api_circuit_open 1.0" in admin.get("/metrics").content.decode()

    # While open, nobody calls the API; after the cooldown a single probe fails and reopens it.
    wait_until(lambda: len(api.calls) > calls_when_opened, COOLDOWN + 10, "a probe after the cooldown")
    probe_at = api.calls[calls_when_opened].at
    assert probe_at - opened_at >= COOLDOWN - 1.1, "no call while the circuit was open"
    wait_until(lambda: breaker.state()["open"], 10, "the failed probe reopens it")
    assert len(api.calls) == calls_when_opened + 1, "one probe, not a burst"

    api.script(Reply(200, {"flags": []}))  # the API is back
    registry = FailedJobRegistry("proctoring", connection=redis_conn)

    def settled() -> bool:
        delivered = FrameResult.objects.filter(job_id__in=job_ids).count()
        return delivered + len(registry.get_job_ids(cleanup=False)) == FRAMES

    wait_until(settled, 90, "every frame delivered or failed")
    wait_until(lambda: not breaker.state()["open"] and breaker.state()["failures"] == 0, 10, "closed")
    failed = registry.get_job_ids(cleanup=False)
    delivered = FrameResult.objects.filter(job_id__in=job_ids).count()
    print(f"{delivered} delivered, {len(failed)} failed, {len(api.calls)} API calls for {FRAMES} frames")
    assert delivered == FRAMES, f"the breaker kept attempts for when the API came back ({failed})"
    # Without the breaker, 10 frames × 6 attempts against a dead API would be 60 failed calls.
    failed_calls = sum(1 for call in api.calls[: calls_when_opened + 1])
    assert failed_calls <= 3 + 2 + 1, "threshold + the calls in flight + one probe"
