"""The embeddable camera (static/proctoring/embed.js) on another platform's page, in Chromium:
the documented sample page (docs/samples/embed.html), served by a platform on another origin,
loads the script from the proctoring site, asks for consent, streams frames that reach the
proctoring API, and stops for good when the platform ends the attempt through the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from exams.models import Attempt, Exam
from proctoring.api import keys
from proctoring.core import protocol
from proctoring.models import FrameResult
from tests.e2e.exam_platform import ExamPlatform
from tests.e2e.pages import axe_violations, screenshot
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Records every socket's close code, without changing what the page does.
WATCH_CLOSES = """
(() => {
  window.socketCloses = [];
  const Original = window.WebSocket;
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", (event) => window.socketCloses.push(event.code));
    }
  };
})();
"""


@pytest.fixture
def platform(exam: Exam, start_gateway: Any) -> Iterator[ExamPlatform]:
    """A platform with a key to `exam`, in front of a running proctoring site."""
    gateway = start_gateway()
    key = keys.issue("Example platform", exams=[exam]).plaintext
    site = ExamPlatform(site=gateway.url, key=key)
    yield site
    site.stop()


def part(page: Page, name: str) -> Any:
    """One of the embedded camera's elements (its ids are `proctoring-camera-<n>-<name>`)."""
    return page.locator(f"#proctoring [id$='-{name}']")


def test_the_sample_page_on_another_origin_streams_and_stops_when_the_platform_ends_the_attempt(
    exam: Exam, platform: ExamPlatform, open_page: Any, start_page_worker: Any
) -> None:
    start_page_worker(PROCTORING_API_URL=f"{platform.site}/reference-api/v1/analyze")
    attempt = platform.open_attempt(exam.slug, "moodle-user-4711")
    assert attempt["status"] == "started" and attempt["ws_path"]
    page = open_page(video="face")
    page.context.add_init_script(WATCH_CLOSES)
    page.goto(f"{platform.url}/exam/")
    assert page.evaluate("location.origin") != platform.site  # the page is the platform's

    # Nothing streams before the candidate agrees; the script came from the proctoring site.
    expect(part(page, "camera-state")).to_have_text("off until you agree")
    assert page.evaluate("window.ProctoringCamera.version") == 1
    page.get_by_role("button", name="I agree: start the camera").click()

    expect(part(page, "conn-state")).to_have_text("connected")
    expect(part(page, "camera-state")).to_have_text("on")
    assert Attempt.objects.get(pk=attempt["id"]).consented_at is not None  # through the platform
    page.wait_for_function(
        "() => Number(document.querySelector(\"#proctoring [id$='-acked']\").textContent) >= 5", timeout=15000
    )
    wait_until(
        lambda: FrameResult.objects.filter(attempt_id=attempt["id"]).count() >= 3,
        20,
        "the embedded camera's frames analysed by the API and stored",
    )
    assert part(page, "refused").inner_text() == "0"
    assert axe_violations(page) == []

    ended = platform.end_attempt()
    assert ended["status"] == "terminated"

    expect(part(page, "camera-ended")).to_be_visible()
    expect(part(page, "camera-state")).to_have_text("off")
    expect(part(page, "conn-state")).to_have_text("ended")
    expect(page.locator("#platform-status")).to_have_text("The proctored exam has ended (terminated).")
    # The gateway closed the socket as the protocol says, and the camera does not reconnect.
    wait_until(
        lambda: page.evaluate("window.socketCloses") == [protocol.CloseCode.ATTEMPT_ENDED],
        10,
        "the socket closed with 4410",
    )
    sent = int(part(page, "sent").inner_text())
    page.wait_for_timeout(1500)  # two capture ticks: no frame may leave after the end
    assert int(part(page, "sent").inner_text()) == sent
    assert page.evaluate("window.socketCloses") == [protocol.CloseCode.ATTEMPT_ENDED]
    screenshot(page, "embedded-camera-ended")
    # Where the lead's webhook check goes once webhooks are merged: register
    # f"{platform.url}/webhooks/" for the platform, then
    # wait_until(lambda: [e["type"] for e in platform.webhook_events()] == [..., "attempt.ended"], ...).
