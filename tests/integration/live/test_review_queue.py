"""The review queue (issue 20, item 5): an exam's attempts ranked by one documented priority,
filtered by review state, each reviewed with an outcome and a comment, and "next unreviewed"
down the list; in a constant number of queries whatever the number of attempts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from exams import lifecycle
from exams.models import Attempt, AttemptReview, Exam
from proctoring.live import actions, review
from proctoring.models import AuditEntry
from proctoring.results import incidents
from tests.integration.live.analysed import stream
from tests.roles import proctor_of

pytestmark = pytest.mark.django_db(transaction=True)


def taker(name: str) -> Any:
    return get_user_model().objects.create_user(name)


def started(exam: Exam, name: str) -> Attempt:
    return lifecycle.apply(
        Attempt.objects.create(user=taker(name), exam=exam), lifecycle.Action.BEGIN
    ).attempt


def test_the_priority_weighs_each_signal_as_documented():
    nothing = review.Signals(streaming_seconds=100)
    assert review.priority(nothing) == 0
    no_face = review.Signals(streaming_seconds=100, no_face_seconds=40)
    several = review.Signals(streaming_seconds=100, kind_seconds={"multiple_faces": 40})
    blocked = review.Signals(streaming_seconds=100, no_face_seconds=40, kind_seconds={"camera_blocked": 40})
    assert review.priority(no_face) == 40.0
    assert review.priority(several) == 60.0  # another person weighs more than an empty chair
    assert review.priority(blocked) == 80.0  # a blocked camera is also no face seen
    flagged = review.Signals(streaming_seconds=100, flags=1, pending=1)
    assert review.priority(flagged) == 55.0
    flood = review.Signals(streaming_seconds=100, pending=500)
    assert review.priority(flood) == review.WEIGHTS["pending"] * review.PENDING_COUNTED
    # Shares are capped at the whole streaming time; no streaming time, no share.
    assert review.priority(review.Signals(streaming_seconds=10, no_face_seconds=50)) == 100.0
    assert review.priority(review.Signals(no_face_seconds=50)) == 0.0


def test_the_no_face_share_is_the_risk_summarys(attempt):
    stream(attempt, [["no_face"]] * 3 + [[]] * 5 + [["camera_blocked", "multiple_faces"]] * 2)
    signals = review.signals_of([attempt.pk])[str(attempt.pk)]
    summary = incidents.risk_summary(attempt)
    assert round(100 * signals.share(signals.no_face_seconds), 1) == summary["no_face_percent"] > 40
    assert signals.streaming_seconds == summary["streaming_seconds"]
    assert signals.kind_counts == {"no_face": 1, "camera_blocked": 1, "multiple_faces": 1}
    for kind, entry in summary["by_kind"].items():
        assert round(signals.kind_seconds[kind], 1) == entry["seconds"]
    assert signals.pending == 3 and signals.flags == 0


def test_attempts_are_ranked_highest_priority_first(exam):
    proctor = proctor_of(exam)
    calm, absent, crowded, flagged = (
        started(exam, name) for name in ("calm", "absent", "crowded", "flagged")
    )
    stream(calm, [[]] * 10)
    stream(absent, [["no_face"]] * 3 + [[]] * 7)  # about 30 % no face, 1 pending: about 35
    stream(crowded, [["multiple_faces"]] * 5 + [[]] * 5)  # about 50 % two faces, 1 pending: about 80
    stream(flagged, [[]] * 10)
    actions.flag(flagged, proctor, "a voice")  # 50, and 5 for it pending
    ranked = review.ranked([calm, absent, crowded, flagged])
    assert [entry.attempt.user.username for entry in ranked] == ["crowded", "flagged", "absent", "calm"]
    priorities = [entry.priority for entry in ranked]
    assert priorities[1:] == [55.0, priorities[2], 0.0] and 30 < priorities[2] < 45 < 70 < priorities[0]


def test_the_queue_filters_by_review_state_and_outcome(exam):
    reviewer = proctor_of(exam)
    first, second, third = (started(exam, name) for name in ("first", "second", "third"))
    review.mark_reviewed(first, reviewer, "violation", "phone")
    review.mark_reviewed(second, reviewer, "violation", "first look")
    review.mark_reviewed(second, reviewer, "no_issue", "the phone was a calculator")  # the newest counts

    def names(state: str) -> set[str]:
        return {entry.attempt.user.username for entry in review.queue(exam, state)}

    assert names("") == {"first", "second", "third"}
    assert names(review.UNREVIEWED) == {"third"}
    assert names(review.REVIEWED) == {"first", "second"}
    assert (
        names("violation") == {"first"} and names("no_issue") == {"second"} and names("suspicious") == set()
    )
    assert third.status == "in_progress"  # running attempts are in the queue too


def test_a_reviewer_marks_an_attempt_and_goes_on_to_the_next_unreviewed(exam):
    reviewer = proctor_of(exam)
    low, high, middle = (started(exam, name) for name in ("low", "high", "middle"))
    stream(high, [["multiple_faces"]] * 10)
    stream(middle, [["no_face"]] * 3 + [[]] * 7)
    desk = Client()
    desk.force_login(reviewer)
    queue = desk.get(f"/proctor/exams/{exam.slug}/review/").content.decode()
    assert queue.index(str(high.pk)) < queue.index(str(middle.pk)) < queue.index(str(low.pk))
    first = desk.get(f"/proctor/exams/{exam.slug}/review/next/")
    assert first["Location"] == f"/proctor/attempts/{high.pk}/"
    response = desk.post(
        f"/proctor/attempts/{high.pk}/review/", {"outcome": "violation", "comment": "two faces", "next": "1"}
    )
    assert response["Location"] == f"/proctor/attempts/{middle.pk}/"
    verdict = AttemptReview.objects.get(attempt=high)
    assert (verdict.reviewer, verdict.outcome, verdict.comment) == (reviewer, "violation", "two faces")
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None and (entry.action, entry.outcome, entry.detail["verdict"]) == (
        "attempt.reviewed",
        "ok",
        "violation",
    )
    page = desk.get(f"/proctor/attempts/{high.pk}/").content.decode()
    assert "two faces" in page and "Violation" in page
    # Skipping one (not reviewing it) goes past it, down the list, then around.
    assert desk.get(f"/proctor/exams/{exam.slug}/review/next/?after={middle.pk}")["Location"] == (
        f"/proctor/attempts/{low.pk}/"
    )
    desk.post(f"/proctor/attempts/{middle.pk}/review/", {"outcome": "no_issue"})
    done = desk.post(f"/proctor/attempts/{low.pk}/review/", {"outcome": "no_issue", "next": "1"})
    assert done["Location"] == f"/proctor/exams/{exam.slug}/review/"
    unreviewed = desk.get(f"/proctor/exams/{exam.slug}/review/?state=unreviewed").content.decode()
    assert "No attempt in this state." in unreviewed


def test_a_review_needs_a_known_outcome_and_a_bounded_comment(exam):
    attempt = started(exam, "someone")
    desk = Client()
    desk.force_login(proctor_of(exam))
    bad = desk.post(
        f"/proctor/attempts/{attempt.pk}/review/", {"outcome": "guilty"}, HTTP_ACCEPT="application/json"
    )
    assert bad.status_code == 400 and "got 'guilty'" in bad.json()["error"]
    long = "x" * (review.COMMENT_MAX + 1)
    assert (
        desk.post(
            f"/proctor/attempts/{attempt.pk}/review/", {"outcome": "no_issue", "comment": long}
        ).status_code
        == 400
    )
    assert not AttemptReview.objects.exists()


def test_another_exams_proctor_gets_403_for_the_queue_and_a_review(exam):
    attempt = started(exam, "someone")
    biology = Exam.objects.create(slug="biology", title="Biology")
    other = Client()
    other.force_login(proctor_of(biology, username="bio"))
    assert other.get(f"/proctor/exams/{exam.slug}/review/").status_code == 403
    assert other.get(f"/proctor/exams/{exam.slug}/review/next/").status_code == 403
    assert other.post(f"/proctor/attempts/{attempt.pk}/review/", {"outcome": "violation"}).status_code == 403
    assert not AttemptReview.objects.exists()


QUEUE_QUERIES = 4  # attempts, incidents, findings, frames; then the reviews


def test_the_queue_costs_the_same_queries_for_50_attempts_as_for_one(exam):
    reviewer = proctor_of(exam)
    first = started(exam, "taker-0")
    stream(first, [["no_face"]] * 2 + [[]] * 2)

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            review.queue(exam)
        return len(queries)

    one = cost()
    for n in range(1, 50):
        attempt = started(exam, f"taker-{n}")
        stream(attempt, [["no_face"], ["multiple_faces"], []])
        if n % 3 == 0:
            review.mark_reviewed(attempt, reviewer, "no_issue")
        if n % 5 == 0:
            actions.flag(attempt, reviewer, "look")
    assert cost() == one == QUEUE_QUERIES + 1
    desk = Client()
    desk.force_login(reviewer)
    with CaptureQueriesContext(connection) as page_queries:
        page = desk.get(f"/proctor/exams/{exam.slug}/review/")
    assert page.status_code == 200 and page.content.decode().count("<tr data-attempt=") == 50
    assert len(page_queries) == QUEUE_QUERIES + 1 + 4  # and the session, the user, the role, the exam
