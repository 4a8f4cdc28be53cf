"""The proctor dashboard in Chromium: a proctor watches an exam's live grid while an exam taker,
in another browser context, starts the exam with a camera that shows no face; the attempt
appears with its latest picture and a `no_face` incident, through a real gateway, worker and
the reference API's face detector, without reloading."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from exams.models import Attempt
from proctoring.core.hints import HINTS
from proctoring.models import Incident
from tests.e2e.conftest import PROCTOR, TAKER
from tests.e2e.pages import log_in, screenshot, take_exam

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_proctor_sees_the_attempt_appear_live_with_its_picture_and_a_no_face_incident(
    user, exam, proctor, open_page, start_gateway, start_page_worker
):
    gateway = start_gateway()
    start_page_worker(PROCTORING_API_URL=gateway.reference_api)
    desk = open_page()
    log_in(desk, gateway.url + "/proctor/", *PROCTOR)
    desk.get_by_role("link", name=exam.title).click()
    expect(desk.get_by_role("button", name="Log out")).to_be_visible()
    expect(desk.locator("[data-socket-state]")).to_have_text("live")
    expect(desk.get_by_text("No attempt in progress")).to_be_visible()

    taker = open_page(video="no_face")
    attempt_id = take_exam(taker, gateway.url, *TAKER, exam.title)

    card = desk.locator(f'[data-attempt="{attempt_id}"]')
    expect(card.get_by_role("heading", name=TAKER[0])).to_be_visible(timeout=15_000)
    expect(card.locator('[data-field="incidents_open"]')).to_have_text("no_face", timeout=15_000)
    expect(card.locator('[data-field="state"]')).to_have_text("streaming")
    expect(card.locator('[data-field="incidents_pending"]')).to_have_text("1")
    picture = card.get_by_role("img", name=f"latest camera picture of {TAKER[0]}")
    expect(picture).to_be_visible()
    desk.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())
    expect(desk.get_by_text("No attempt in progress")).to_have_count(0)
    # The taker hears of it only as a calm hint.
    expect(taker.locator("#hint")).to_have_text(HINTS["face_not_visible"])
    [incident] = Incident.objects.filter(attempt_id=attempt_id)
    assert incident.kind == "no_face"
    screenshot(desk, "proctor-dashboard")
    screenshot(taker, "exam-page-no-face")


def test_the_grid_follows_a_review_and_a_closed_camera_without_a_reload(
    user, exam, proctor, open_page, start_gateway, start_page_worker
):
    gateway = start_gateway()
    start_page_worker(PROCTORING_API_URL=gateway.reference_api)
    # Another exam taker has started but sent no picture yet.
    other = get_user_model().objects.create_user("quiet", password="quiet-pass-123")
    quiet = Attempt.objects.create(user=other, exam=exam)
    desk = open_page()
    log_in(desk, gateway.url + "/proctor/", *PROCTOR)
    desk.get_by_role("link", name=exam.title).click()
    expect(desk.locator("[data-socket-state]")).to_have_text("live")
    # Its card shows the note in the picture's place: no broken image, nothing over the name.
    waiting = desk.locator(f'[data-attempt="{quiet.pk}"]')
    expect(waiting.locator('img[data-field="thumb"]')).to_be_hidden()
    note = waiting.locator('[data-field="no-thumb"]').bounding_box()
    name = waiting.get_by_role("heading", name="quiet").bounding_box()
    assert note and name and note["y"] + note["height"] <= name["y"], (note, name)

    taker = open_page(video="no_face")
    attempt_id = take_exam(taker, gateway.url, *TAKER, exam.title)
    card = desk.locator(f'[data-attempt="{attempt_id}"]')
    to_review = card.locator('[data-field="incidents_pending"]')
    expect(to_review).to_have_text("1", timeout=15_000)

    # The exam taker closes the tab: the camera is disconnected, not "streaming" then "stalled".
    state = card.locator('[data-field="state"]')
    expect(state).to_have_text("streaming")
    taker.close()
    expect(state).to_have_text("disconnected", timeout=3_000)
    # It stays so, rather than turning "stalled" as the last frame ages.
    desk.wait_for_timeout(6_000)
    expect(state).to_have_text("disconnected")
    # Then, with no frame coming to refresh the row, another tab of the same proctor dismisses the
    # incident: the grid hears of the review itself.
    review = desk.context.new_page()
    review.goto(f"{gateway.url}/proctor/attempts/{attempt_id}/")
    review.get_by_role("button", name="Dismiss").first.click()
    expect(review.get_by_text("marked dismissed")).to_be_visible()
    [incident] = Incident.objects.filter(attempt_id=attempt_id)
    assert incident.review_status == Incident.Review.DISMISSED
    expect(to_review).to_have_text("0", timeout=5_000)

    screenshot(desk, "proctor-dashboard-reviewed-and-disconnected")
