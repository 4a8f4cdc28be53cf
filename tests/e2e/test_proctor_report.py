"""The attempt's printable report in Chromium, as the print dialog lays it out (print media):
no admin header, breadcrumbs or buttons, incidents kept whole on a page, the snapshot loaded
through its authorized URL; printed to a PDF left in the artifacts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from exams import lifecycle
from exams.models import Attempt
from proctoring.live import actions, review
from tests.e2e.conftest import PROCTOR
from tests.e2e.pages import ARTIFACTS, log_in
from tests.roles import flagged_frame

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_report_prints_without_the_page_around_it(user, exam, proctor, open_page, start_gateway):
    gateway = start_gateway()
    attempt = Attempt.objects.create(user=user, exam=exam)
    flagged_frame(attempt, 1)
    attempt = lifecycle.apply(attempt, lifecycle.Action.BEGIN).attempt
    actions.flag(attempt, proctor, "a second voice")
    lifecycle.apply(attempt, lifecycle.Action.TERMINATE, by=proctor, reason="kept talking")
    review.mark_reviewed(attempt, proctor, "violation", "confirmed")
    desk = open_page()
    log_in(desk, f"{gateway.url}/proctor/attempts/{attempt.pk}/report/", *PROCTOR)
    expect(desk.get_by_role("button", name="Print")).to_be_visible()
    snapshot = desk.get_by_role("img", name="snapshot of no_face")
    desk.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=snapshot.element_handle())

    desk.emulate_media(media="print")
    for hidden in ("#header", ".breadcrumbs", "button"):
        expect(desk.locator(hidden).first).to_be_hidden()
    expect(desk.get_by_role("cell", name="kept talking")).to_be_visible()
    incidents = desk.locator(".report-incident")
    expect(incidents).to_have_count(2)
    assert incidents.first.evaluate("e => getComputedStyle(e).breakInside") == "avoid"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = desk.pdf(path=str(ARTIFACTS / "attempt-report.pdf"))
    assert pdf.startswith(b"%PDF")
