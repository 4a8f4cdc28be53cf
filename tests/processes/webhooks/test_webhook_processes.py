"""Webhooks with real processes: `manage.py backgroundworker` (with its scheduler) delivers to a
real receiver on 127.0.0.1. A failing receiver sees each retry no sooner than its documented
delay; a receiver that holds its request does not slow the frames, which have workers of their
own (`rqworker proctoring`): every frame is delivered while the webhook is still held."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from exams import lifecycle
from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.models import FrameResult, WebhookDelivery
from proctoring.queue import enqueue as enqueuing
from proctoring.webhooks import endpoints, events
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until
from tests.webhook_receiver import verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FRAMES = 40
SLOW_RECEIVER_S = 5.0  # the slow receiver


@pytest.fixture
def receiver() -> Iterator[RecordingApi]:
    server = RecordingApi().start()
    yield server
    server.stop()


@pytest.fixture
def fresh(attempt: Attempt) -> Attempt:
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    attempt.refresh_from_db()
    return attempt


def test_a_failing_receiver_sees_each_retry_no_sooner_than_its_delay(
    fresh, receiver, start_background_worker
):
    receiver.script(Reply(500, b"no"))
    secret = endpoints.register(receiver.url, [events.ATTEMPT_STARTED]).secret
    start_background_worker(PROCTORING_WEBHOOK_RETRY_DELAYS="1,2")
    lifecycle.apply(fresh, lifecycle.Action.BEGIN)
    row = wait_until(
        lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).first(),
        30,
        "three attempts, then failed",
        interval=0.1,
    )
    calls = receiver.calls
    assert row.attempts == 3 and len(calls) == 3, "one try and a retry per delay, no more"
    gaps = [later.at - earlier.at for earlier, later in zip(calls, calls[1:], strict=False)]
    print(f"\nretries after {gaps[0]:.2f} s and {gaps[1]:.2f} s (delays 1 s, 2 s)")
    assert gaps[0] >= 1 and gaps[1] >= 2
    assert all(verify(secret, call.headers, call.body) for call in calls)
    assert len({call.headers["webhook-id"] for call in calls}) == 1


def send_frames(attempt: Attempt, first_seq: int) -> float:
    """Queues FRAMES frames and returns the frames per second until all are stored."""
    started = time.monotonic()
    for seq in range(first_seq, first_seq + FRAMES):
        frame = parse_image(jpeg_bytes(), 1 << 20, None)
        enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, frame)
    total = first_seq - 1 + FRAMES
    wait_until(lambda: FrameResult.objects.filter(attempt=attempt).count() == total, 60, "frames stored")
    return FRAMES / (time.monotonic() - started)


def test_a_receiver_holding_its_request_does_not_slow_the_frames(
    fresh, api, receiver, settings, start_worker, start_background_worker
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = FRAMES
    start_worker()
    start_background_worker()
    without = send_frames(fresh, 1)

    receiver.block()  # a slow receiver: it answers only when the test lets it
    endpoints.register(receiver.url, [events.ATTEMPT_STARTED])
    lifecycle.apply(fresh, lifecycle.Action.BEGIN)
    wait_until(lambda: len(receiver.calls) == 1, 30, "the webhook reached the receiver")
    held_since = time.monotonic()
    with_slow = send_frames(fresh, FRAMES + 1)

    delivery = WebhookDelivery.objects.get()
    assert receiver.hold.is_set() and delivery.attempts == 0, "every frame went while the webhook was held"
    print(
        f"\nframes/s: {without:.1f} without webhooks, {with_slow:.1f} with a receiver holding its "
        f"request (held {time.monotonic() - held_since:.1f} s so far)"
    )
    # The slow receiver answers after 5 s: the stimulus, kept whole (frames went before it).
    time.sleep(max(0.0, SLOW_RECEIVER_S - (time.monotonic() - held_since)))
    receiver.release()
    delivered = wait_until(
        lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).first(),
        30,
        "the webhook delivered once released",
    )
    assert delivered.attempts == 1 and delivered.latency_ms >= SLOW_RECEIVER_S * 1000
