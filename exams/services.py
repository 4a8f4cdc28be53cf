"""Starting attempts, agreeing to proctoring and ending them: what exam pages, the admin and
commands share. State changes go through `exams.lifecycle`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Exam


class ExamClosed(Exception):
    """The exam takes no new attempts (inactive, outside its window, or not for this user)."""


def start_refusal(user: User, exam: Exam, *, enrolled: bool = False) -> str | None:
    """Why `user` may not start `exam` now, or None. `enrolled`: the caller vouches for the
    enrolment (an API key scoped to the exam), so the exam's group is not asked."""
    now = timezone.now()
    if not exam.is_active:
        return f"exam {exam.slug!r} is not open"
    if exam.opens_at is not None and now < exam.opens_at:
        return f"exam {exam.slug!r} opens at {exam.opens_at:%Y-%m-%d %H:%M} UTC"
    if exam.closes_at is not None and now >= exam.closes_at:
        return f"exam {exam.slug!r} closed at {exam.closes_at:%Y-%m-%d %H:%M} UTC"
    if not enrolled and User.objects.filter(pk=user.pk, external__isnull=False).exists():
        # A platform's user (the REST API's or an LTI launch's, `proctoring.models.ExternalUser`)
        # is enrolled by its platform, exam by exam: it starts only what its platform opens.
        return f"exam {exam.slug!r} is started from your course's platform, not here"
    if (
        not enrolled
        and exam.enrolled_group_id is not None
        and not user.groups.filter(pk=exam.enrolled_group_id).exists()
    ):
        return f"you are not enrolled in exam {exam.slug!r}"
    if exam.attempts_allowed:
        made = Attempt.objects.filter(user=user, exam=exam, ended_at__isnull=False).count()
        if made >= exam.attempts_allowed:
            return f"you have used your {made} attempt{'s' if made != 1 else ''} at exam {exam.slug!r}"
    return None


def start_attempt(user: User, exam: Exam, *, enrolled: bool = False) -> Attempt:
    """The user's open attempt at the exam, or a new one: reloading the page resumes, not restarts.
    An attempt under way is resumed even after the window closed (its clock ends it)."""
    with transaction.atomic():
        attempt = Attempt.objects.filter(user=user, exam=exam, ended_at__isnull=True).first()
        if attempt is None:
            refusal = start_refusal(user, exam, enrolled=enrolled)
            if refusal:
                raise ExamClosed(refusal)
            attempt = Attempt.objects.create(user=user, exam=exam)
    return attempt


def end_attempt(attempt: Attempt, by: Any = None, reason: str = "ended by staff") -> Attempt:
    """Terminates an open attempt (an ended one is left as it is)."""
    if attempt.status not in lifecycle.OPEN:
        return attempt
    try:
        return lifecycle.apply(attempt, lifecycle.Action.TERMINATE, by=by, reason=reason).attempt
    except lifecycle.TransitionRefused:  # ended in between
        return Attempt.objects.get(pk=attempt.pk)


def give_consent(attempt: Attempt) -> Attempt:
    """Records that the exam taker agreed to be recorded (the first agreement counts); the clock
    starts then."""
    if attempt.status != Attempt.Status.STARTED:
        return attempt
    try:
        return lifecycle.apply(
            attempt, lifecycle.Action.BEGIN, by=attempt.user, reason="agreed to proctoring"
        ).attempt
    except lifecycle.TransitionRefused:
        return Attempt.objects.get(pk=attempt.pk)
