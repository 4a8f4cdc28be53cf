"""Exports (issue 20, item 6): an exam's attempts as CSV (parsed back with csv.DictReader,
formulas neutralised, audited) and one attempt's printable report (403 for another exam's
proctor)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from exams import lifecycle
from exams.models import Attempt, Exam, ProctorMessage
from proctoring.live import actions, exports, review
from proctoring.models import AuditEntry, Incident
from tests.integration.live.analysed import stream
from tests.roles import flagged_frame, proctor_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proctor(exam: Exam):
    return proctor_of(exam)


@pytest.fixture
def desk(proctor) -> Client:
    client = Client()
    client.force_login(proctor)
    return client


def test_the_csv_holds_each_attempt_with_its_incidents_score_and_review(desk, proctor, exam, attempt):
    attempt = lifecycle.apply(attempt, lifecycle.Action.BEGIN).attempt
    stream(attempt, [["no_face"]] * 4 + [[]] * 4 + [["multiple_faces"]])
    actions.flag(attempt, proctor, "=1+1")
    attempt = lifecycle.apply(attempt, lifecycle.Action.SUBMIT).attempt
    Attempt.objects.filter(pk=attempt.pk).update(score=Decimal("3.5"), max_score=Decimal("5"))
    review.mark_reviewed(attempt, proctor, "suspicious", '=HYPERLINK("http://evil.example")')
    forger = get_user_model().objects.create_user("@SUM(A1:A9)")
    quiet = Attempt.objects.create(user=forger, exam=exam)

    response = desk.get(f"/proctor/exams/{exam.slug}/attempts.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="algebra-attempts-' in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    rows = {row["attempt"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert set(rows) == {str(attempt.pk), str(quiet.pk)}
    row = rows[str(attempt.pk)]
    assert (row["user"], row["status"], row["score"], row["max_score"]) == (
        "taker",
        "submitted",
        "3.50",
        "5.00",
    )
    assert row["started_at"] and row["clock_started_at"] and row["ended_at"]
    assert float(row["no_face_seconds"]) > 0 and float(row["streaming_seconds"]) >= float(
        row["no_face_seconds"]
    )
    assert (row["incidents:no_face"], row["incidents:multiple_faces"], row["incidents:proctor_flag"]) == (
        "1",
        "1",
        "1",
    )
    assert "incidents:camera_blocked" not in row  # one column per kind present
    assert (row["review_state"], row["review_outcome"], row["reviewer"]) == (
        "reviewed",
        "suspicious",
        "proctor",
    )
    assert row["review_comment"] == '\'=HYPERLINK("http://evil.example")'  # text, not a formula
    other = rows[str(quiet.pk)]
    assert other["user"] == "'@SUM(A1:A9)" and other["review_state"] == "unreviewed"
    assert (other["ended_at"], other["score"], other["incidents:no_face"]) == ("", "", "0")
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None and (entry.action, entry.exam, entry.detail["attempts"]) == (
        "exam.results_exported", exam, 2,
    )  # fmt: skip


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\t=1", "'\t=1"),
        ("a=b", "a=b"),
        ("", ""),
        (42, 42),
        (-1.5, -1.5),  # a number is a number
    ],
)
def test_a_cell_that_would_start_a_formula_is_text(value, cell):
    assert exports.neutral(value) == cell


def test_the_csv_of_another_exam_is_403_and_recorded(exam):
    biology = Exam.objects.create(slug="biology", title="Biology")
    other = Client()
    other.force_login(proctor_of(biology, username="bio"))
    assert other.get(f"/proctor/exams/{exam.slug}/attempts.csv").status_code == 403
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None and (entry.action, entry.target_id) == ("access.refused", exam.slug)


def test_the_report_shows_the_whole_attempt_for_printing(desk, proctor, attempt):
    snapshot = flagged_frame(attempt, 1)
    attempt = lifecycle.apply(attempt, lifecycle.Action.BEGIN).attempt
    lifecycle.apply(attempt, lifecycle.Action.PAUSE, by=proctor, reason="a phone rang")
    actions.send_message(attempt, proctor, "Please put the phone away.")
    ProctorMessage.objects.update(read_at=attempt.consented_at)
    actions.flag(attempt, proctor, "a second voice")
    lifecycle.apply(attempt, lifecycle.Action.TERMINATE, by=proctor, reason="kept talking")
    review.mark_reviewed(attempt, proctor, "violation", "confirmed on the recording")

    response = desk.get(f"/proctor/attempts/{attempt.pk}/report/")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    page = response.content.decode()
    assert 'href="/static/proctoring/print.css"' in page
    assert f'src="/proctor/frames/{snapshot.job_id}/snapshot"' in page  # through the authorized URL
    for text in (
        "Timeline summary", "no_face", "proctor_flag", "a second voice", "flagged by proctor",
        "a phone rang", "kept talking", "Please put the phone away.", "confirmed on the recording",
        "Violation", "Terminated",
    ):  # fmt: skip
        assert text in page, text
    assert page.count('class="report-incident') == Incident.objects.filter(attempt=attempt).count() == 2
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None and (entry.action, entry.target_id) == ("attempt.report_viewed", str(attempt.pk))


def test_the_report_of_another_exams_attempt_is_403(attempt):
    biology = Exam.objects.create(slug="biology", title="Biology")
    other = Client()
    other.force_login(proctor_of(biology, username="bio"))
    assert other.get(f"/proctor/attempts/{attempt.pk}/report/").status_code == 403
    assert not AuditEntry.objects.filter(action="attempt.report_viewed").exists()
