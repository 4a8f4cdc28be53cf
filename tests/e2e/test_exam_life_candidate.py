"""An exam's life on the candidate's page, in Chromium against a real gateway: answering (saved
as they go, kept across a reload and a second tab), submitting and seeing the outcome, the
clock running out, and the page following a proctor's pause, message and termination through
the state endpoint it polls. axe-core checks each view (consent, questions, paused, ended).

The proctor's actions are applied from the test through `exams.lifecycle` on the same database;
the page hears of them by polling `attempts/<id>/state/` (the socket path is the gateway's).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from exams import lifecycle
from exams.models import Answer, Attempt, Choice, Exam, ProctorMessage, Question
from tests.e2e.conftest import TAKER
from tests.e2e.pages import axe_violations, consent, log_in, open_exam, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

POLL_S = 20  # the page polls its state every ~12 s


@pytest.fixture
def questions(exam: Exam) -> dict[str, Question]:
    single = Question.objects.create(exam=exam, position=1, kind="single", prompt="What is 2 + 2?")
    for n, (label, right) in enumerate([("3", False), ("4", True), ("5", False)]):
        Choice.objects.create(question=single, position=n, text=label, is_correct=right)
    multiple = Question.objects.create(
        exam=exam, position=2, kind="multiple", prompt="Which numbers are even?", points=2
    )
    for n, (label, right) in enumerate([("2", True), ("7", False), ("10", True)]):
        Choice.objects.create(question=multiple, position=n, text=label, is_correct=right)
    text = Question.objects.create(exam=exam, position=3, kind="text", prompt="Why is the sky blue?")
    return {"single": single, "multiple": multiple, "text": text}


def begin(page: Page, gateway_url: str, exam: Exam) -> Attempt:
    log_in(page, gateway_url + "/", *TAKER)
    attempt_id = open_exam(page, exam.title)
    consent(page)
    expect(page.get_by_role("heading", name="Questions")).to_be_visible()
    return Attempt.objects.get(pk=attempt_id)


def saved(page: Page, number: int) -> None:
    card = page.locator(".question").nth(number - 1)
    expect(card.locator(".save-state")).to_have_text("Saved", timeout=10_000)


def assert_accessible(page: Page, view: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core, {view} view:\n" + "\n".join(violations)


def test_a_candidate_answers_reloads_and_submits_and_sees_the_score(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page(video="face")
    log_in(page, gateway.url + "/", *TAKER)
    open_exam(page, exam.title)
    assert_accessible(page, "consent")
    consent(page)
    expect(page.get_by_role("heading", name="Questions")).to_be_visible()
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^(59:[0-5]\d|1:00:00)$"))
    # The ticking timer is no live region; a separate polite one speaks now and then.
    ticking = page.locator("#time-left").locator("xpath=ancestor-or-self::*[@aria-live]")
    expect(ticking).to_have_count(0)
    expect(page.locator("#time-announce")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#time-announce")).to_have_text(re.compile(r"(1 hour|\d+ minutes) left"))

    single = page.get_by_role("group", name=re.compile("What is 2 \\+ 2"))
    single.get_by_label("4").check()
    saved(page, 1)
    multiple = page.get_by_role("group", name=re.compile("Which numbers are even"))
    multiple.get_by_label("2", exact=True).check()
    multiple.get_by_label("7").check()
    saved(page, 2)
    page.get_by_label(re.compile("Why is the sky blue")).fill("Rayleigh scattering of sunlight.")
    saved(page, 3)
    assert_accessible(page, "questions")
    screenshot(page, "exam-life-answering")

    page.reload()
    expect(single.get_by_label("4")).to_be_checked()
    expect(multiple.get_by_label("7")).to_be_checked()
    expect(page.get_by_label(re.compile("Why is the sky blue"))).to_have_value(
        "Rayleigh scattering of sunlight."
    )

    page.get_by_role("button", name="Submit the exam…").click()
    expect(page.locator("#submit-confirm-text")).to_be_focused()
    page.get_by_role("button", name="Keep working").click()
    expect(page.get_by_role("button", name="Submit the exam…")).to_be_focused()
    page.get_by_role("button", name="Submit the exam…").click()
    page.get_by_role("button", name="Yes, submit my answers").click()

    outcome = page.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("You submitted your answers.")
    # Single right (1 point), multiple wrong (7 is odd): 1 of 3.
    expect(outcome).to_contain_text("Score for the choice questions: 1 of 3 points.")
    expect(page.get_by_role("heading", name="Questions")).to_have_count(0)
    assert Attempt.objects.get(user=user).status == "submitted"
    assert_accessible(page, "ended")
    screenshot(page, "exam-life-submitted")


def test_a_second_tab_s_change_is_shown_not_overwritten(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    box = page.get_by_label(re.compile("Why is the sky blue"))
    box.fill("first draft")
    saved(page, 3)
    # Another tab (the same session) saves a newer answer; this tab still holds version 1.
    other = page.context.new_page()
    other.goto(page.url)
    other.get_by_label(re.compile("Why is the sky blue")).fill("written in the other tab")
    expect(other.locator(".question").nth(2).locator(".save-state")).to_have_text("Saved", timeout=10_000)
    box.fill("first draft, edited")
    card = page.locator(".question").nth(2)
    expect(card.locator(".save-state")).to_contain_text("Changed in another tab", timeout=10_000)
    expect(box).to_have_value("written in the other tab")
    expect(page.locator("#save-note")).to_contain_text("changed in another tab")
    assert Answer.objects.get(attempt=attempt, question=questions["text"]).text == "written in the other tab"


def test_an_answer_typed_while_offline_is_saved_once_the_connection_is_back(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    page.context.set_offline(True)
    page.get_by_label(re.compile("Why is the sky blue")).fill("typed on a train")
    card = page.locator(".question").nth(2)
    expect(card.locator(".save-state")).to_contain_text("no connection", timeout=10_000)
    page.context.set_offline(False)
    saved(page, 3)
    assert Answer.objects.get(attempt=attempt, question=questions["text"]).text == "typed on a train"


def test_at_the_deadline_the_page_says_time_is_up_and_shows_the_server_s_outcome(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    page.get_by_role("group", name=re.compile("What is 2 \\+ 2")).get_by_label("4").check()
    saved(page, 1)
    assert attempt.consented_at is not None
    elapsed = (timezone.now() - attempt.consented_at).total_seconds()
    Attempt.objects.filter(pk=attempt.pk).update(time_limit_seconds=int(elapsed) + 6)
    page.reload()
    expect(page.locator("#attempt-status")).to_have_text("time is up, submitting…", timeout=15_000)
    outcome = page.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("The time ran out", timeout=10_000)
    expect(outcome).to_contain_text("1 of 3 points")
    expect(page.locator("#camera-state")).to_have_text("off")
    assert Attempt.objects.get(pk=attempt.pk).status == "timed_out"


def test_the_page_follows_a_pause_and_its_resume_with_the_clock_stopped(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    lifecycle.apply(attempt, lifecycle.Action.PAUSE, reason="please show the room")
    notice = page.locator("#paused-notice")
    expect(notice).to_be_visible(timeout=POLL_S * 1000)
    expect(notice).to_contain_text("please show the room")
    expect(page.get_by_role("heading", name="Questions")).to_be_hidden()
    frozen = page.locator("#time-left").inner_text()
    page.wait_for_timeout(1500)  # observing a still clock takes time by definition
    assert page.locator("#time-left").inner_text() == frozen
    expect(page.locator("#conn-state")).to_have_text("connected")  # the camera keeps streaming
    assert_accessible(page, "paused")
    screenshot(page, "exam-life-paused")

    lifecycle.apply(Attempt.objects.get(pk=attempt.pk), lifecycle.Action.RESUME)
    expect(page.get_by_role("heading", name="Questions")).to_be_visible(timeout=POLL_S * 1000)
    expect(notice).to_be_hidden()
    expect(page.locator("#time-announce")).to_contain_text("resumed")

    lifecycle.apply(Attempt.objects.get(pk=attempt.pk), lifecycle.Action.EXTEND, extra_seconds=600)
    expect(page.locator("#time-announce")).to_contain_text(
        "You were given 10 more minutes", timeout=POLL_S * 1000
    )
    expect(page.locator("#time-left")).to_have_text(re.compile(r"^1:(09|10):\d\d$"))


def test_a_proctor_s_message_takes_focus_is_marked_read_and_termination_ends_the_page(
    user: Any, exam: Exam, questions: dict[str, Question], open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    box = page.get_by_label(re.compile("Why is the sky blue"))
    box.focus()
    message = ProctorMessage.objects.create(attempt=attempt, body="Please keep your face in view.")
    dialog = page.get_by_role("alertdialog", name="Message from your proctor")
    expect(dialog).to_be_visible(timeout=POLL_S * 1000)
    expect(dialog).to_contain_text("Please keep your face in view.")
    expect(dialog).to_be_focused()
    assert_accessible(page, "proctor message")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="OK, I've read it")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(box).to_be_focused()

    def read() -> bool:
        message.refresh_from_db()
        return message.read_at is not None

    from tests.support import wait_until

    wait_until(read, 10, "the message marked read")

    lifecycle.apply(Attempt.objects.get(pk=attempt.pk), lifecycle.Action.TERMINATE, reason="a second person")
    outcome = page.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("A proctor ended your exam.", timeout=POLL_S * 1000)
    expect(outcome).to_contain_text("Reason: a second person")
    expect(page.locator("#camera-state")).to_have_text("off")
    expect(outcome).to_be_focused()


def test_the_axe_check_reports_a_serious_violation_when_there_is_one(
    user: Any, exam: Exam, open_page: Any, start_gateway: Any
) -> None:
    gateway = start_gateway()
    page = open_page()
    log_in(page, gateway.url + "/", *TAKER)
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=unlabelled>')")
    assert any(line.startswith("label ") for line in axe_violations(page))
