"""The exam page's reactions to the camera socket's `attempt` and `message` messages and to its
close code 4410, in Chromium. The gateway that sends them is another part of the work; here the
test hands the page's own socket the messages the protocol defines (`proctoring.core.protocol`),
through the socket's real message and close events, so camera.js's handlers run as they would."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from exams import lifecycle
from exams.models import Answer, Attempt, Exam, Question
from proctoring.core import protocol
from proctoring.results.attempt_control import state_message
from tests.e2e.conftest import TAKER
from tests.e2e.pages import consent, log_in, open_exam

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Keeps the page's camera sockets, so that the test can hand them server messages.
KEEP_SOCKETS = """
(() => {
  window.cameraSockets = [];
  const Original = window.WebSocket;
  window.WebSocket = class extends Original {
    constructor(...args) { super(...args); window.cameraSockets.push(this); }
  };
})();
"""
REACT_MS = 2000  # the bound on how fast the page reacts


def deliver(page: Page, payload: str) -> None:
    page.evaluate(
        "(data) => window.cameraSockets.at(-1).dispatchEvent(new MessageEvent('message', { data }))", payload
    )


def close_ended(page: Page) -> None:
    page.evaluate(
        "(code) => window.cameraSockets.at(-1).dispatchEvent(new CloseEvent('close', { code }))",
        protocol.CloseCode.ATTEMPT_ENDED,
    )


@pytest.fixture
def text_question(exam: Exam) -> Question:
    return Question.objects.create(exam=exam, position=1, kind="text", prompt="Why is the sky blue?")


def begin(page: Page, url: str, exam: Exam) -> Attempt:
    log_in(page, url + "/", *TAKER)
    attempt_id = open_exam(page, exam.title)
    consent(page)
    expect(page.locator("#conn-state")).to_have_text("connected")
    return Attempt.objects.get(pk=attempt_id)


def test_attempt_and_message_messages_reach_the_page_within_two_seconds(
    user: Any, exam: Exam, text_question: Question, open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    page.context.add_init_script(KEEP_SOCKETS)
    attempt = begin(page, gateway.url, exam)

    paused = lifecycle.apply(attempt, lifecycle.Action.PAUSE, reason="look at the camera").attempt
    deliver(page, state_message(paused))
    expect(page.locator("#paused-notice")).to_contain_text("look at the camera", timeout=REACT_MS)
    expect(page.get_by_role("heading", name="Questions")).to_be_hidden()
    expect(page.locator("#conn-state")).to_have_text("connected")  # the camera keeps streaming

    running = lifecycle.apply(paused, lifecycle.Action.RESUME).attempt
    extended = lifecycle.apply(running, lifecycle.Action.EXTEND, extra_seconds=900).attempt
    deliver(page, state_message(extended))
    expect(page.get_by_role("heading", name="Questions")).to_be_visible(timeout=REACT_MS)
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^1:1[45]:\d\d$"))
    expect(page.locator("#time-announce")).to_contain_text("15 more minutes")

    deliver(page, protocol.proctor_message(41, "Please stay in view.", "2026-12-02T10:00:00+00:00"))
    dialog = page.get_by_role("alertdialog", name="Message from your proctor")
    expect(dialog).to_contain_text("Please stay in view.", timeout=REACT_MS)
    expect(dialog).to_be_focused()
    sent = page.evaluate(
        """() => new Promise((resolve) => {
          const ws = window.cameraSockets.at(-1);
          const send = ws.send.bind(ws);
          ws.send = (data) => { if (typeof data === "string") resolve(JSON.parse(data)); return send(data); };
          document.getElementById("proctor-message-ok").click();
        })"""
    )
    assert sent == {"type": protocol.MessageType.MESSAGE_READ.value, "id": 41}
    expect(dialog).to_be_hidden()


def test_the_final_message_and_close_code_4410_stop_the_camera_for_good(
    user: Any, exam: Exam, text_question: Question, open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    page.context.add_init_script(KEEP_SOCKETS)
    attempt = begin(page, gateway.url, exam)

    ended = lifecycle.apply(attempt, lifecycle.Action.TERMINATE, reason="someone else in the room").attempt
    deliver(page, state_message(ended))
    close_ended(page)
    outcome = page.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("A proctor ended your exam.", timeout=REACT_MS)
    expect(outcome).to_contain_text("Reason: someone else in the room")
    expect(page.locator("#camera-state")).to_have_text("off")
    assert page.evaluate("document.getElementById('preview').srcObject") is None
    sent_before = int(page.locator("#sent").inner_text())
    page.wait_for_timeout(2500)  # no reconnect, no frame: absence is observed over time
    assert page.evaluate("window.cameraSockets.length") == 1
    assert int(page.locator("#sent").inner_text()) == sent_before


def test_close_code_4410_alone_ends_the_page_with_the_outcome_read_from_the_server(
    user: Any, exam: Exam, text_question: Question, open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    page.context.add_init_script(KEEP_SOCKETS)
    attempt = begin(page, gateway.url, exam)
    lifecycle.apply(attempt, lifecycle.Action.SUBMIT)
    close_ended(page)
    outcome = page.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("You submitted your answers.", timeout=REACT_MS)
    expect(page.locator("#conn-state")).to_have_text("ended")
    page.wait_for_timeout(2500)
    assert page.evaluate("window.cameraSockets.length") == 1


def test_an_answer_refused_by_a_pause_is_kept_and_saved_at_the_resume(
    user: Any, exam: Exam, text_question: Question, open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    page.context.add_init_script(KEEP_SOCKETS)
    attempt = begin(page, gateway.url, exam)
    # A pause whose message has not reached the page yet (the gateway tells it within
    # milliseconds, so the row is changed here without publishing): its save is refused, which
    # tells it. The page's slow state poll would tell it too, if it came first on a slow machine:
    # it is held off until the refused save has spoken.
    state_url = re.compile(re.escape(reverse("exams:state", args=[attempt.pk])) + "$")
    page.route(state_url, lambda route: route.abort())
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.PAUSED, paused_at=timezone.now())
    paused = Attempt.objects.get(pk=attempt.pk)
    page.get_by_label(re.compile("Why is the sky blue")).fill("typed as the pause came")
    expect(page.locator("#paused-notice")).to_be_visible(timeout=10_000)
    assert not Answer.objects.exists()
    page.unroute_all()

    deliver(page, state_message(lifecycle.apply(paused, lifecycle.Action.RESUME).attempt))
    expect(page.locator(".question .save-state")).to_have_text("Saved", timeout=10_000)
    assert Answer.objects.get(attempt=attempt).text == "typed as the pause came"
