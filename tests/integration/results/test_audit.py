"""The audit log's record (issue 18, build 4): appended, never changed or deleted but by the
retention purge, bounded, kept past its actor's deletion, and fed by permission changes made
anywhere."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.utils import timezone

from exams.models import Exam
from proctoring.models import AppendOnly, AuditEntry
from proctoring.results import audit, retention
from tests.roles import bare_staff

pytestmark = pytest.mark.django_db

Action, Outcome = AuditEntry.Action, AuditEntry.Outcome


def entry(days_ago: float = 0, **fields: Any) -> AuditEntry:
    return AuditEntry.objects.create(
        at=timezone.now() - timedelta(days=days_ago), action=Action.QUEUE_PAUSED, **fields
    )


def test_an_entry_names_its_actor_target_and_exam_and_outlives_the_actor(attempt):
    actor = bare_staff("kim")
    made = audit.record(actor, Action.ATTEMPT_ENDED, attempt, note="by hand")
    assert (made.actor_username, made.target_type, made.target_id) == (
        "kim",
        "exams.attempt",
        str(attempt.pk),
    )
    assert (made.exam, made.exam_slug, made.outcome, made.detail) == (
        attempt.exam, "algebra", Outcome.OK, {"note": "by hand"},
    )  # fmt: skip
    actor.delete()
    attempt.exam.delete()
    made.refresh_from_db()
    assert made.actor is None and made.actor_username == "kim"
    assert made.exam is None and made.exam_slug == "algebra"


def test_entries_cannot_be_changed_or_deleted_through_the_orm():
    made = entry()
    made.outcome = Outcome.ERROR
    with pytest.raises(AppendOnly):
        made.save()
    with pytest.raises(AppendOnly):
        made.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=made.pk).update(outcome=Outcome.ERROR)
    made.refresh_from_db()
    assert made.outcome == Outcome.OK


def test_details_are_bounded():
    made = audit.record(None, Action.JOB_DELETED, ("jobs", "many"), job_ids=["f" * 32] * 1000)
    assert set(made.detail) == {"truncated"} and len(made.detail["truncated"]) <= audit.DETAIL_MAX


def test_the_purge_deletes_entries_past_their_own_retention_only(settings):
    settings.PROCTORING_RETENTION_DAYS = 1
    settings.PROCTORING_AUDIT_RETENTION_DAYS = 365
    old, kept = entry(days_ago=366), entry(days_ago=300)
    assert retention.purge(dry_run=True).audit_entries == 1
    assert AuditEntry.objects.filter(pk=old.pk).exists()
    out = StringIO()
    call_command("proctoring_purge", stdout=out)
    assert "1 audit entry older than 365 day(s)" in out.getvalue()
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [kept.pk]


def test_permission_and_proctor_changes_are_recorded_wherever_they_are_made(exam: Exam):
    user = bare_staff("lee")
    view_queue = Permission.objects.get(codename="view_queue")
    user.user_permissions.add(view_queue)
    exam.proctors.add(user)
    operators = Group.objects.create(name="operators")
    operators.permissions.add(view_queue)
    user.groups.add(operators)
    exam.proctors.clear()
    user.is_superuser = True
    user.save()
    user.save(update_fields=["last_login"])  # a login: no role changed
    rows = [
        " ".join([row.action, row.target_type, row.exam_slug, *map(str, row.detail.values())])
        for row in AuditEntry.objects.order_by("pk")
    ]
    assert rows == [
        "role.changed auth.user  created True False",
        "permissions.changed auth.user  added user_user_permissions ['proctoring.view_queue']",
        "proctors.changed exams.exam algebra added exam_proctors ['lee']",
        "permissions.changed auth.group  added group_permissions ['proctoring.view_queue']",
        "permissions.changed auth.user  added user_groups ['operators']",
        "proctors.changed exams.exam algebra cleared exam_proctors ['lee']",
        "role.changed auth.user  set True",
    ]


def test_an_exam_taker_signing_up_is_not_a_role_change():
    get_user_model().objects.create_user("taker-2", password="x-123456789")
    assert not AuditEntry.objects.exists()


def test_an_attempt_erased_is_recorded_even_with_its_exam(attempt):
    attempt_id = str(attempt.pk)
    attempt.exam.delete()  # the attempt goes by cascade
    erased = AuditEntry.objects.get(action=Action.ATTEMPT_ERASED)
    assert (erased.target_type, erased.target_id, erased.exam, erased.exam_slug) == (
        "exams.attempt", attempt_id, None, "algebra",
    )  # fmt: skip
