"""The exam page in Chromium when what it streams to goes away: the gateway (it reconnects and
resumes), and Redis behind a gateway that stays up (it keeps its socket, backs off 1, 2, 4, 8 s
on `unavailable`, and is acked again once Redis is back)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from proctoring_site.embedded_redis import RedisServer
from tests.e2e.conftest import TAKER
from tests.e2e.pages import count, screenshot, take_exam, wait_for_count
from tests.support import RecordingApi, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BACKOFF_MS = [1000, 2000, 4000, 8000]  # camera.js's pauses after 1, 2, 3, 4 `unavailable` in a row


def delivered_since(api: RecordingApi, client_id: str, since: float) -> int:
    return sum(1 for call in list(api.calls) if call.fields.get("client_id") == client_id and call.at > since)


def test_the_page_reconnects_when_the_gateway_comes_back_and_resumes_sending(
    user, exam, api, open_page, start_gateway, start_page_worker
):
    gateway = start_gateway()
    start_page_worker()
    page = open_page()
    attempt_id = take_exam(page, gateway.url, *TAKER, exam.title)
    state = page.locator("#conn-state")
    expect(state).to_have_text("connected")
    wait_for_count(page, "acked", 3, timeout_ms=10_000)

    gateway.process.stop()
    expect(state).to_have_text("reconnecting")
    acked_before = count(page, "acked")
    start_gateway(port=gateway.port)
    back = time.monotonic()

    expect(state).to_have_text("connected", timeout=20_000)
    wait_for_count(page, "acked", acked_before + 3, timeout_ms=10_000)
    wait_until(
        lambda: delivered_since(api, attempt_id, back) >= 3, 15, "frames sent after the restart delivered"
    )
    screenshot(page, "exam-page-gateway-restarted")


def test_the_page_backs_off_while_redis_is_down_and_is_acked_again_when_it_is_back(
    user, exam, api, open_page, start_gateway, start_page_worker, processes, tmp_path: Path
):
    redis_server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        gateway = start_gateway(REDIS_URL=redis_server.url)
        start_page_worker(REDIS_URL=redis_server.url)
        page = open_page(watch_socket=True)
        attempt_id = take_exam(page, gateway.url, *TAKER, exam.title)
        state = page.locator("#conn-state")
        expect(state).to_have_text("connected")
        wait_for_count(page, "acked", 2, timeout_ms=10_000)

        redis_server.stop()
        expect(state).to_have_text("retrying")
        expect(page.locator("#last-error")).to_have_text(
            "The server cannot take frames right now; retrying by itself."
        )
        page.wait_for_function(
            "n => window.cameraSocket.replies.filter(r => r.code === 'unavailable').length >= n",
            arg=len(BACKOFF_MS),
            timeout=20_000,
        )
        screenshot(page, "exam-page-redis-down")
        redis_server = RedisServer(tmp_path / "redis", port=redis_server.port, appendonly=True).start()
        back = time.monotonic()

        # The next frame, sent after the last pause, is acked on the same socket.
        expect(state).to_have_text("connected", timeout=15_000)
        expect(page.locator("#last-error")).to_have_text("")
        watched = page.evaluate("window.cameraSocket")
        wait_until(
            lambda: delivered_since(api, attempt_id, back) >= 1,
            30,
            "a frame acked after the restart delivered",
        )
        refused = count(page, "refused")
        screenshot(page, "exam-page-redis-back")
    finally:
        # Servers first: a worker whose Redis is gone cannot stop warmly (it waits for it).
        for process in reversed(processes):
            process.stop()
        redis_server.stop()

    pauses = pauses_after_unavailable(watched["sent"], watched["replies"])
    print("pauses after unavailable (ms):", [round(p) for p in pauses])
    assert len(pauses) >= len(BACKOFF_MS), pauses
    for pause, backoff in zip(pauses, BACKOFF_MS, strict=False):
        # The backoff, and the time to take and encode a picture (a busy CI machine is slow at it;
        # the capture tick the page used to wait for instead came 500 ms after the backoff).
        assert backoff <= pause <= backoff + 400, (pauses, BACKOFF_MS)
    assert watched["sockets"] == 1, "the page kept its socket"
    assert refused == sum(1 for reply in watched["replies"] if reply["type"] == "error")


def pauses_after_unavailable(sent: list[float], replies: list[dict[str, object]]) -> list[float]:
    """For each `unavailable` reply, how long the page waited before it sent its next frame."""
    pauses = []
    for reply in replies:
        if reply["code"] != "unavailable":
            continue
        at = float(reply["at"])  # type: ignore[arg-type]
        following = [moment for moment in sent if moment > at]
        if following:
            pauses.append(following[0] - at)
    return pauses
