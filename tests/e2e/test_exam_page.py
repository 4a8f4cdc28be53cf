"""The exam page in Chromium, as an exam taker uses it: log in, open the exam, agree, stream
through a real gateway, worker and the reference API; a camera the browser refuses; the page
by keyboard, to a screen reader and on a 360 px wide phone."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from proctoring.models import FrameResult
from tests.e2e.conftest import TAKER
from tests.e2e.pages import (
    connection,
    consent,
    count,
    log_in,
    open_exam,
    screenshot,
    take_exam,
    wait_for_count,
)
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_taker_streams_a_face_and_frames_are_acked_and_delivered_within_seconds(
    user, exam, open_page, start_gateway, start_page_worker
):
    gateway = start_gateway()
    start_page_worker(PROCTORING_API_URL=gateway.reference_api)
    page = open_page(video="face")
    log_in(page, gateway.url + "/", *TAKER)
    attempt_id = open_exam(page, exam.title)
    consented = time.monotonic()
    consent(page)

    expect(page.locator("#conn-state")).to_have_text("connected")
    expect(page.locator("#camera-state")).to_have_text("on")
    wait_for_count(page, "acked", 15, timeout_ms=max(0, 10 - (time.monotonic() - consented)) * 1000)
    acked_within = time.monotonic() - consented

    def stored() -> list[FrameResult]:
        results = list(FrameResult.objects.filter(attempt_id=attempt_id))
        return results if len(results) >= 15 else []

    delivered = wait_until(stored, 15, "15 frames delivered to the reference API and stored")
    print(f"15 frames acked {acked_within:.1f} s after consent")
    assert count(page, "refused") == 0
    assert connection(page) == "connected"
    # The reference API saw the taker's face in the fake camera's video: no flag, no hint.
    assert all(result.result["faces"]["count"] == 1 for result in delivered)
    expect(page.locator("#hint")).to_be_hidden()
    screenshot(page, "exam-page-streaming")


def test_a_camera_larger_than_the_pixel_limit_is_scaled_down_and_its_frames_acked(
    user, exam, open_page, start_gateway
):
    # The fake camera plays 320×240; the gateway takes at most 160×120.
    gateway = start_gateway(PROCTORING_MAX_FRAME_PIXELS=str(160 * 120))
    page = open_page(video="face")
    take_exam(page, gateway.url, *TAKER, exam.title)
    wait_for_count(page, "acked", 3, timeout_ms=15_000)
    assert count(page, "refused") == 0


def test_a_blocked_camera_is_explained_and_nothing_is_streamed(user, exam, open_page, start_gateway):
    gateway = start_gateway()
    page = open_page(camera_allowed=False)
    take_exam(page, gateway.url, *TAKER, exam.title)

    help_text = page.get_by_role("alert")
    expect(help_text).to_contain_text("Camera access was blocked")
    expect(help_text).to_contain_text("allow the camera for this site, then reload the page")
    expect(page.locator("#camera-state")).to_have_text("not available")
    expect(page.locator("#conn-state")).to_have_text("stopped")
    assert count(page, "sent") == 0
    screenshot(page, "exam-page-camera-blocked")


def test_the_exam_page_works_by_keyboard_speaks_its_status_and_fits_360_px(
    user, exam, open_page, start_gateway
):
    gateway = start_gateway()
    page = open_page(viewport={"width": 360, "height": 740})
    log_in(page, gateway.url + "/", *TAKER)
    open_exam(page, exam.title)

    def no_horizontal_scroll() -> bool:
        return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))

    agree = page.get_by_role("button", name="I agree: start the camera")
    expect(agree).to_be_visible()
    assert no_horizontal_scroll(), "the consent page scrolls sideways at 360 px"
    # Focus order: the site's header, then the consent button, before anything of the camera.
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1] == "I agree: start the camera":
            break
    assert focused == ["Proctored exams", "Log out", "I agree: start the camera"], focused
    page.keyboard.press("Enter")

    expect(page.locator("#conn-state")).to_have_text("connected")
    # Status changes are read out by screen readers: they sit in live regions.
    for status in ("#conn-state", "#camera-state", "#hint", "#last-error"):
        region = page.locator(status).locator("xpath=ancestor-or-self::*[@aria-live][1]")
        expect(region).to_have_attribute("aria-live", "polite")
    expect(page.locator("#camera-help")).to_have_attribute("role", "alert")
    expect(page.get_by_role("region", name="Your camera")).to_be_visible()
    expect(page.get_by_label("Your camera's picture")).to_be_visible()
    assert no_horizontal_scroll(), "the streaming page scrolls sideways at 360 px"
    screenshot(page, "exam-page-360px")
