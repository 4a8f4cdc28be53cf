"""A proctor steps in, in Chromium, through a real gateway (daphne): on the attempt's timeline
page they send a message and pause, and the page shows the message (not read yet), the attempt
paused and the transition with their name and reason; on the live grid, the card's menu pauses
without leaving the grid, and a terminated attempt leaves it. (What the exam page does with the
message and the pause is the exam page's tests'.)"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from exams import lifecycle
from exams.models import Attempt, ProctorMessage
from tests.e2e.conftest import PROCTOR
from tests.e2e.pages import log_in, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIME_LEFT = re.compile(r"^(\d+:)?\d+:\d\d left$")  # as the grid counts it down: "59:58 left"
PAUSED_CARD = re.compile(r"\bstatus-paused\b")


def test_a_proctor_messages_and_pauses_from_the_timeline(user, exam, proctor, open_page, start_gateway):
    gateway = start_gateway()
    attempt = lifecycle.apply(Attempt.objects.create(user=user, exam=exam), lifecycle.Action.BEGIN).attempt
    desk = open_page()
    log_in(desk, f"{gateway.url}/proctor/attempts/{attempt.pk}/", *PROCTOR)
    expect(desk.locator("#attempt-state .status-badge")).to_have_text("in progress")
    time_left = desk.locator("#time-left")
    expect(time_left).to_have_text(re.compile(r"^5\d:\d\d$"))
    first = time_left.inner_text()
    expect(time_left).not_to_have_text(first)  # counting down

    desk.get_by_label("Message to the candidate").fill("Please keep your face in view.")
    desk.get_by_role("button", name="Send message").click()
    expect(desk.get_by_text("Message sent.")).to_be_visible()
    messages = desk.locator("#proctor-messages")
    expect(messages).to_contain_text("Please keep your face in view.")
    expect(messages).to_contain_text("not read yet")

    desk.get_by_label("Pause reason (the candidate sees it)").fill("a check of the room")
    desk.get_by_role("button", name="Pause").click()
    expect(desk.get_by_text("Paused.", exact=True)).to_be_visible()
    expect(desk.locator("#attempt-state .status-badge")).to_have_text("Paused")
    expect(desk.locator("#attempt-state")).to_contain_text("stopped while paused")
    expect(desk.get_by_role("button", name="Resume")).to_be_visible()
    expect(desk.get_by_role("button", name="Pause")).to_have_count(0)
    last = desk.locator("#transitions tbody tr").last
    expect(last).to_contain_text("pause")
    expect(last).to_contain_text(PROCTOR[0])
    expect(last).to_contain_text("a check of the room")
    screenshot(desk, "proctor-timeline-paused")

    attempt.refresh_from_db()
    assert attempt.status == "paused"
    [message] = ProctorMessage.objects.filter(attempt=attempt)
    assert message.body == "Please keep your face in view." and message.sender == proctor


def test_the_grid_menu_pauses_in_place_and_an_ended_attempt_leaves(
    user, exam, proctor, open_page, start_gateway
):
    gateway = start_gateway()
    attempt = lifecycle.apply(Attempt.objects.create(user=user, exam=exam), lifecycle.Action.BEGIN).attempt
    other = Attempt.objects.create(user=get_user_model().objects.create_user("quiet"), exam=exam)
    desk = open_page()
    log_in(desk, f"{gateway.url}/proctor/exams/{exam.slug}/", *PROCTOR)
    expect(desk.locator("[data-socket-state]")).to_have_text("live")
    card = desk.locator(f'[data-attempt="{attempt.pk}"]')
    expect(card.locator('[data-field="time_left"]')).to_have_text(TIME_LEFT)
    grid_url = desk.url

    card.get_by_text("Actions").click()
    card.get_by_role("button", name="Pause").click()
    expect(card.locator('[data-field="action_result"]')).to_have_text("Paused.")
    expect(card.locator('[data-field="status"]')).to_have_text("Paused")
    expect(card).to_have_class(PAUSED_CARD)
    expect(card.get_by_role("button", name="Resume")).to_be_visible()
    assert desk.url == grid_url  # no navigation
    screenshot(desk, "proctor-grid-paused")

    # Ended elsewhere (another proctor, the deadline): the card leaves through the socket.
    lifecycle.apply(other, lifecycle.Action.TERMINATE, reason="left the room")
    lifecycle.apply(attempt, lifecycle.Action.TERMINATE, reason="left the room")
    expect(card).to_have_count(0, timeout=10_000)
    expect(desk.locator(f'[data-attempt="{other.pk}"]')).to_have_count(0)
    screenshot(desk, "proctor-grid-after-terminate")
