"""The proctoring API goes down (503s) and comes back: the circuit breaker opens after a few
failures, workers stop calling the dead API (frames wait instead of burning attempts), the admin
shows the circuit open, a probe closes it once the API answers, and every frame ends delivered
or in the failed registry with its reason."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rq.job import Job
from rq.registry import FailedJobRegistry

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import breaker, counters, enqueue
from tests.roles import operator
from tests.support import RecordingApi, Reply, failure_text, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FRAMES = 10
COOLDOWN = 5  # long enough for the admin's three pages to see the circuit open on a busy machine


def test_a_dead_api_opens_the_circuit_and_frames_wait_then_go_through(
    attempt, api, settings, start_worker, redis_conn
):
    settings.PROCTORING_JOB_ATTEMPTS = 6  # written into each job at enqueue
    settings.PROCTORING_BACKOFF_SECONDS = 1
    settings.PROCTORING_BREAKER_THRESHOLD = 3
    api.script(Reply(503, {"error": "down"}))
    client = str(attempt.pk)
    job_ids = [
        enqueue.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20))
        for seq in range(FRAMES)
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
    staff = operator("ops", operate=False)
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


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("kind", "outage"),
    [("refused", 8.0), ("timeout", 8.0), ("503", 60.0)],
    ids=["connection-refused-8s", "timeouts-8s", "503-for-60s"],
)
def test_every_frame_of_an_outage_ends_delivered_failed_with_its_reason_or_counted_stale(
    kind: str, outage: float, attempt, settings, start_worker, redis_conn
):
    """A camera streams at 2 frames/s through an outage of the API and after it, with the
    production defaults (3 attempts, 2 s backoff, breaker 5 failures / 10 s, frames older than
    30 s sent late, older than 15 min expired): each acked frame ends delivered, in the failed
    registry with the outage's reason, or counted as expired, none unaccounted for."""
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 500  # the backlog of a minute's outage
    settings.PROCTORING_API_TIMEOUT = 0.5
    api = RecordingApi()  # for "refused", bound but not listening until the API is back
    settings.PROCTORING_API_URL = api.url
    if kind != "refused":
        api.start()
        api.script(Reply(503, {"error": "maintenance"}) if kind == "503" else Reply(delay=2.0))
    start_worker()
    client = str(attempt.pk)
    acked: list[str] = []
    seq = 0

    def stream_for(seconds: float) -> None:
        nonlocal seq
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            seq += 1
            acked.append(enqueue.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20)))
            time.sleep(0.5)  # the camera's pace: 2 frames/s

    try:
        stream_for(outage)
        opened = breaker.state()["open"] or breaker.state()["failures"] > 0
        back = time.time()
        if kind == "refused":
            api.start()
        api.script(Reply(200, {"flags": []}))
        stream_for(5)
        registry = FailedJobRegistry("proctoring", connection=redis_conn)

        def accounted() -> tuple[int, int, int]:
            delivered = FrameResult.objects.filter(job_id__in=acked).count()
            failed = len(set(registry.get_job_ids(cleanup=False)) & set(acked))
            stale = counters.read([client])[client]["stale"]
            return delivered, failed, stale

        wait_until(lambda: sum(accounted()) == len(acked), 120, "every frame accounted for", interval=0.5)
        # How long after the API came back the first frame went through (the breaker's probe).
        recovered = min(
            r.created_at.timestamp() - back
            for r in FrameResult.objects.filter(job_id__in=acked)
            if r.created_at.timestamp() >= back
        )
        delivered, failed, stale = accounted()
        for job_id in set(registry.get_job_ids(cleanup=False)) & set(acked):
            text = failure_text(Job.fetch(job_id, connection=redis_conn))
            assert "ApiUnavailable" in text, text
            expected = {"refused": "unreachable", "timeout": "timed out", "503": "answered 503"}[kind]
            assert expected in text, text
        calls = len(api.calls)
    finally:
        api.stop()
    print(
        f"API {kind} for {outage:.0f}s: {len(acked)} acked, {delivered} delivered, {failed} failed, "
        f"{stale} stale, 0 lost; breaker tripped: {opened}; {calls} calls reached the API; first "
        f"frame delivered {recovered:.1f}s after the API was back"
    )
    assert delivered + failed + stale == len(acked)
    assert delivered > 0
