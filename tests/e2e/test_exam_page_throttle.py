"""The exam page in Chromium obeys `throttle`: when the queue is half full the gateway asks for
half the rate, and the frames reaching the gateway come half as often (measured on the server,
from the frames' own arrival times)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue, envelopes, policy
from tests.e2e.conftest import TAKER
from tests.e2e.pages import screenshot, take_exam
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MAX_QUEUED = 100


def arrivals(client_id: str, after: float = 0) -> list[float]:
    """When the gateway received each of the client's frames still queued (epoch seconds)."""
    metas = (envelopes.read_meta(job_id) for job_id in policy.get_queue().get_job_ids())
    times = (meta.received_at.timestamp() for meta in metas if meta and meta.client_id == client_id)
    return sorted(moment for moment in times if moment > after)


def wait_for_arrivals(client_id: str, count: int, after: float = 0) -> list[float]:
    def enough() -> list[float]:
        times = arrivals(client_id, after)
        return times if len(times) >= count else []

    found: list[float] = wait_until(enough, 15, f"{count} frames of {client_id} at the gateway")
    return found


def mean_interval(times: list[float]) -> float:
    return (times[-1] - times[0]) / (len(times) - 1)


def test_a_throttled_page_sends_at_the_rate_the_gateway_asks_for(
    user, exam, settings, open_page, start_gateway
):
    # No worker: the page's frames stay queued, so the queue's length is the test's to set.
    settings.PROCTORING_MAX_QUEUED = MAX_QUEUED
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = MAX_QUEUED
    gateway = start_gateway(PROCTORING_MAX_QUEUED=str(MAX_QUEUED))
    page = open_page()
    attempt_id = take_exam(page, gateway.url, *TAKER, exam.title)
    rate = page.locator("#rate")
    expect(page.locator("#conn-state")).to_have_text("connected")
    expect(rate).to_have_text("2 frames/s")
    before = wait_for_arrivals(attempt_id, 7)

    # Another exam taker's backlog fills the queue past half: the next ack comes with throttle.
    other = str(uuid.uuid4())
    frame = parse_image(jpeg_bytes(), settings.PROCTORING_MAX_FRAME_BYTES)
    for seq in range(1, MAX_QUEUED // 2 + 1):
        enqueue.enqueue_frame(other, other, seq, frame)
    expect(rate).to_have_text("1 frames/s")
    told = arrivals(attempt_id)[-1]
    after = wait_for_arrivals(attempt_id, 6, after=told)

    print(
        f"frames every {mean_interval(before):.2f} s, then every {mean_interval(after):.2f} s when throttled"
    )
    assert 0.4 <= mean_interval(before) <= 0.65, before
    assert 0.85 <= mean_interval(after) <= 1.2, after
    assert page.locator("#refused").inner_text() == "0"
    screenshot(page, "exam-page-throttled")
