"""The embeddable camera (static/proctoring/embed.js) on another platform's page, in Chromium:
the documented sample page (docs/samples/embed.html), served by a platform on another origin,
loads the script from the proctoring site, asks for consent, streams frames that reach the
proctoring API, and stops for good when the platform ends the attempt through the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect

from exams.models import Attempt, Exam, ProctorMessage
from proctoring.api import keys
from proctoring.core import protocol
from proctoring.live import actions
from proctoring.models import FrameResult
from tests.e2e.conftest import TAKER
from tests.e2e.exam_platform import ExamPlatform
from tests.e2e.pages import axe_violations, log_in, screenshot
from tests.support import wait_until
from tests.webhook_receiver import verify

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
    exam: Exam, platform: ExamPlatform, open_page: Any, start_page_worker: Any, start_background_worker: Any
) -> None:
    start_page_worker(PROCTORING_API_URL=f"{platform.site}/reference-api/v1/analyze")
    start_background_worker()  # it delivers the webhooks
    hook = platform.api("POST", "webhooks/", {"url": f"{platform.url}/webhooks/proctoring"})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
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
    screenshot(page, "embedded-camera")

    # A proctor flags the attempt: the platform hears the incident open, and close at the end.
    proctor = get_user_model().objects.create_user("proctor-embed", is_staff=True)
    flagged = actions.flag(Attempt.objects.get(pk=attempt["id"]), proctor, "looked away for a minute")

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
    # The platform heard the attempt start (at consent), the incident open and close, and the
    # attempt end, each signed with its endpoint's secret.
    wait_until(
        lambda: (
            {"attempt.ended", "incident.closed"} <= {event["type"] for event in platform.webhook_events()}
        ),
        20,
        "the platform's attempt.ended and incident.closed webhooks",
    )
    heard = platform.webhook_events()
    assert all(event["data"]["attempt_id"] == attempt["id"] for event in heard)
    types = [event["type"] for event in heard]
    assert sorted(types) == ["attempt.ended", "attempt.started", "incident.closed", "incident.opened"]
    assert types[0] == "attempt.started" and types.index("incident.opened") < types.index("incident.closed")
    assert {event["data"].get("incident_id") for event in heard if event["type"].startswith("incident.")} == {
        flagged.pk
    }
    assert all(verify(secret, item.headers, item.body) for item in platform.received)


def test_the_embedded_camera_shows_a_proctors_message_and_pause_and_reports_the_message_read(
    exam: Exam, platform: ExamPlatform, open_page: Any, proctor: Any
) -> None:
    opened = platform.open_attempt(exam.slug, "moodle-user-4712")
    page = open_page()
    page.goto(f"{platform.url}/exam/")
    page.get_by_role("button", name="I agree: start the camera").click()
    expect(part(page, "conn-state")).to_have_text("connected")
    attempt = Attempt.objects.get(pk=opened["id"])

    message = actions.send_message(attempt, proctor, "Please keep your face in the picture.")
    dialog = page.get_by_role("alertdialog", name="Message from your proctor")
    expect(dialog).to_contain_text("Please keep your face in the picture.")
    assert axe_violations(page) == []
    dialog.get_by_role("button", name="OK, I've read it").click()
    expect(dialog).to_be_hidden()
    wait_until(
        lambda: ProctorMessage.objects.get(pk=message.pk).read_at is not None,
        10,
        "the message marked read over the socket",
    )

    paused = actions.pause(attempt, proctor, reason="look at the camera").attempt
    notice = part(page, "camera-paused")
    expect(notice).to_have_text(
        "A proctor paused the exam: look at the camera. The clock is stopped and the camera keeps running."
    )
    expect(part(page, "conn-state")).to_have_text("connected")  # the camera keeps streaming
    actions.resume(paused, proctor)
    expect(notice).to_be_hidden()


# The close code a socket opened from the page gets; null if it is still open after 5 s (a
# refused socket is closed at once, after its handshake).
OPEN_SOCKET = """
(url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onclose = (event) => resolve(event.code);
  setTimeout(() => { resolve(null); ws.close(); }, 5000);
})
"""


def test_a_page_of_another_origin_cannot_stream_with_the_candidates_session(
    user: Any, exam: Exam, platform: ExamPlatform, open_page: Any
) -> None:
    """Only a token lets another origin's page stream. The candidate is logged in on this site;
    a page of another site, or of another port of this site's host, that opens the attempt's
    socket without its token is refused."""
    attempt = Attempt.objects.create(user=user, exam=exam, consented_at=timezone.now())
    platform.open_attempt(exam.slug, "moodle-user-4713")  # the platform's page needs one
    page = open_page()
    log_in(page, platform.site + "/", *TAKER)
    socket = platform.site.replace("http://", "ws://") + f"/ws/proctoring/{attempt.pk}/"
    # The same socket from this site's own page is the candidate's.
    page.evaluate("(url) => { window.own = new WebSocket(url); }", socket)
    page.wait_for_function("() => window.own.readyState === WebSocket.OPEN")
    page.evaluate("() => window.own.close()")

    page.goto(f"{platform.url}/exam/")
    # Another site: the session cookie is SameSite=Lax, so the browser does not send it, and a
    # socket without a session or a token is refused.
    assert page.evaluate(OPEN_SOCKET, socket) == protocol.CloseCode.UNAUTHENTICATED

    same_host = ExamPlatform(site=platform.site, key=platform.key, hostname="127.0.0.1")
    try:
        same_host.attempt = platform.attempt
        page.goto(f"{same_host.url}/exam/")
        # Another port of the same host: the browser sends the cookie (cookies do not tell
        # ports apart), and the origin check refuses the session.
        assert page.evaluate(OPEN_SOCKET, socket) == protocol.CloseCode.FORBIDDEN
    finally:
        same_host.stop()
