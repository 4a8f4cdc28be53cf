"""Every action of a proctor or an operator, and every refusal, leaves an audit entry (issue 18,
build 4); the admin shows the log, filtered, and lets no one add, change or delete an entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from proctoring.core.protocol import CloseCode
from proctoring.models import AuditEntry
from proctoring.queue import policy
from tests.communicators import close_code, session_headers
from tests.roles import an_exam_with_everything, bare_staff, operator, proctor_of, superuser

pytestmark = pytest.mark.django_db(transaction=True)

Action, Outcome = AuditEntry.Action, AuditEntry.Outcome


@pytest.fixture
def world(exam: Any, user: Any, redis_conn: Any) -> dict[str, Any]:
    return an_exam_with_everything(exam, user, redis_conn)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


ACCOUNTS = (Action.ROLE_CHANGED, Action.PERMISSIONS_CHANGED, Action.PROCTORS_CHANGED)


def entries() -> list[tuple[str, str, str, str, str]]:
    """The log but for the accounts' set-up (test_audit.py tests those entries)."""
    return list(
        AuditEntry.objects.exclude(action__in=ACCOUNTS)
        .order_by("pk")
        .values_list("actor_username", "action", "target_type", "target_id", "outcome")
    )


def test_a_proctors_views_and_review_are_recorded(world):
    client = logged_in(proctor_of(world["exam"]))
    attempt, incident, snapshot = world["attempt"], world["incident"], world["snapshot"]
    client.get(reverse("proctor-attempt", args=[attempt.pk]))
    client.get(reverse("proctor-snapshot", args=[snapshot.job_id]))
    for _ in range(3):  # the grid fetches a new picture every few seconds: one entry a while
        assert client.get(reverse("proctor-thumbnail", args=[attempt.pk])).status_code == 200
    client.post(reverse("proctor-review", args=[incident.pk]), {"status": "dismissed", "comment": "glare"})
    client.post(reverse("proctor-review", args=[incident.pk]), {"status": "nonsense"})
    assert entries() == [
        ("proctor", Action.ATTEMPT_VIEWED, "exams.attempt", str(attempt.pk), Outcome.OK),
        ("proctor", Action.SNAPSHOT_VIEWED, "proctoring.frameresult", str(snapshot.pk), Outcome.OK),
        ("proctor", Action.THUMBNAIL_VIEWED, "exams.attempt", str(attempt.pk), Outcome.OK),
        ("proctor", Action.INCIDENT_DISMISSED, "proctoring.incident", str(incident.pk), Outcome.OK),
        ("proctor", Action.INCIDENT_REVIEWED, "proctoring.incident", str(incident.pk), Outcome.ERROR),
    ]
    review = AuditEntry.objects.get(action=Action.INCIDENT_DISMISSED)
    assert review.detail == {"status": "dismissed", "comment": "glare"}
    assert (review.exam, review.remote_addr) == (world["exam"], "127.0.0.1")


def test_another_exams_objects_and_pages_without_a_role_are_recorded_as_refused(world, user, redis_conn):
    from exams.models import Exam

    other = an_exam_with_everything(Exam.objects.create(slug="biology", title="Biology"), user, redis_conn)
    proctor = proctor_of(world["exam"])
    client = logged_in(proctor)
    client.get(reverse("proctor-snapshot", args=[other["snapshot"].job_id]))
    client.post(reverse("proctor-review", args=[other["incident"].pk]), {"status": "dismissed"})
    client.post(reverse("proctoring-queue-pause"))
    assert entries() == [
        ("proctor", Action.REFUSED, "frame", other["snapshot"].job_id, Outcome.REFUSED),
        ("proctor", Action.REFUSED, "incident", str(other["incident"].pk), Outcome.REFUSED),
        ("proctor", Action.REFUSED, "url", reverse("proctoring-queue-pause"), Outcome.REFUSED),
    ]
    logged_in(bare_staff()).get(reverse("proctor-exams"))
    assert entries()[-1] == ("nobody", Action.REFUSED, "url", "/proctor/", Outcome.REFUSED)
    assert close_code("/ws/proctor/exams/biology/", session_headers(proctor)) == CloseCode.FORBIDDEN
    assert close_code("/ws/admin/proctoring/events/", session_headers(proctor)) == CloseCode.FORBIDDEN
    assert entries()[-2:] == [
        ("proctor", Action.REFUSED, "exam", "biology", Outcome.REFUSED),
        ("proctor", Action.REFUSED, "socket", "job events", Outcome.REFUSED),
    ]


def test_an_operators_actions_are_recorded(world):
    acting = operator()
    client = logged_in(acting)
    queued = world["queued"]
    client.post(reverse("proctoring-queue-pause"))
    client.post(reverse("proctoring-queue-resume"))
    client.post(reverse("proctoring-queue-test-frame"))
    test_job = AuditEntry.objects.get(action=Action.TEST_FRAME_SENT).target_id
    action = reverse("proctoring-queue-failed-action")
    client.post(action, {"action": f"delete:{queued}"})
    client.post(action, {"action": "retry", "job_id": [queued, "f" * 32]})
    client.post(action, {"action": "clean", "hours": "forever"})
    client.get(reverse("proctoring-queue-job-frame", args=[queued]))  # not a proctor of its exam
    assert entries() == [
        ("operator", Action.QUEUE_PAUSED, "queue", "proctoring", Outcome.OK),
        ("operator", Action.QUEUE_RESUMED, "queue", "proctoring", Outcome.OK),
        ("operator", Action.TEST_FRAME_SENT, "job", test_job, Outcome.OK),
        ("operator", Action.JOB_DELETED, "job", queued, Outcome.OK),
        ("operator", Action.JOB_RETRIED, "jobs", "2 selected", Outcome.OK),
        ("operator", Action.FAILED_CLEANED, "failed", "older than", Outcome.ERROR),
        ("operator", Action.FRAME_VIEWED, "job", queued, Outcome.REFUSED),
    ]
    deleted = AuditEntry.objects.get(action=Action.JOB_DELETED)
    assert deleted.detail == {"job_ids": [queued], "done": 0, "skipped": 1}  # it was queued, not failed
    assert policy.get_queue().connection.exists(f"rq:job:{queued}")
    world["exam"].proctors.add(acting)
    client.get(reverse("proctoring-queue-job-frame", args=[queued]))
    assert entries()[-1] == ("operator", Action.FRAME_VIEWED, "job", queued, Outcome.OK)


def test_attempts_ended_and_proctors_assigned_in_the_admin_are_recorded(world):
    admin = logged_in(superuser())
    attempt, exam = world["attempt"], world["exam"]
    admin.post("/admin/exams/attempt/", {"action": "end_attempts", "_selected_action": [str(attempt.pk)]})
    proctor = bare_staff("pat")
    form = {
        "title": exam.title, "slug": exam.slug, "description": "", "duration_minutes": "60",
        "attempts_allowed": "1",
        "is_active": "on", "proctors": [str(proctor.pk)],
        "questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0",  # the questions inline's
    }  # fmt: skip
    assert admin.post(f"/admin/exams/exam/{exam.pk}/change/", form).status_code == 302
    ended = AuditEntry.objects.get(action=Action.ATTEMPT_ENDED)
    assigned = AuditEntry.objects.get(action=Action.PROCTORS_CHANGED, actor_username="admin")
    assert (ended.actor_username, ended.target_id, ended.exam) == ("admin", str(attempt.pk), exam)
    assert (assigned.actor_username, assigned.exam, assigned.detail["of"]) == ("admin", exam, ["pat"])


def test_the_admin_lists_and_filters_the_log_and_changes_nothing_even_for_a_superuser(world):
    admin = logged_in(superuser())
    logged_in(operator()).post(reverse("proctoring-queue-pause"))
    logged_in(bare_staff()).get(reverse("proctor-exams"))
    paused = AuditEntry.objects.get(action=Action.QUEUE_PAUSED)
    listing = admin.get("/admin/proctoring/auditentry/", {"outcome": "refused"})
    assert listing.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert [(row.actor_username, row.action) for row in shown] == [("nobody", Action.REFUSED)]
    assert "nobody" in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no bulk actions, not even delete
    page = admin.get(f"/admin/proctoring/auditentry/{paused.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin.get("/admin/proctoring/auditentry/add/").status_code == 403
    assert (
        admin.post(f"/admin/proctoring/auditentry/{paused.pk}/change/", {"outcome": "error"}).status_code
        == 403
    )
    assert admin.post(f"/admin/proctoring/auditentry/{paused.pk}/delete/", {"post": "yes"}).status_code == 403
    paused.refresh_from_db()
    assert paused.outcome == Outcome.OK and len(entries()) == 2
