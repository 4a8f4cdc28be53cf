"""Starting and ending attempts: the state changes exam pages and commands share."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from exams.models import Attempt, Exam


class ExamClosed(Exception):
    """The exam takes no new attempts."""


def start_attempt(user: User, exam: Exam) -> Attempt:
    """The user's open attempt at the exam, or a new one: reloading the page resumes, not restarts."""
    if not exam.is_active:
        raise ExamClosed(f"exam {exam.slug!r} is not open")
    with transaction.atomic():
        attempt = Attempt.objects.filter(user=user, exam=exam, ended_at__isnull=True).first()
        if attempt is None:
            attempt = Attempt.objects.create(user=user, exam=exam)
    return attempt


def end_attempt(attempt: Attempt) -> Attempt:
    if attempt.ended_at is None:
        attempt.ended_at = timezone.now()
        attempt.save(update_fields=["ended_at"])
    return attempt


def give_consent(attempt: Attempt) -> Attempt:
    """Records that the exam taker agreed to be recorded (the first agreement counts)."""
    if attempt.consented_at is None:
        attempt.consented_at = timezone.now()
        attempt.save(update_fields=["consented_at"])
    return attempt
