"""What a verified launch does: finds the exam its link points at, makes (or finds) the platform's
user, and opens or continues their attempt. A launch from a registered platform is the
enrolment: the platform vouches for its course's learners, so the exam's group is not asked; the
exam's window and attempt count are."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import User
from django.db import transaction

from exams import lifecycle
from exams.models import Attempt, Exam
from exams.services import ExamClosed, start_attempt
from proctoring.api import platform_users
from proctoring.lti.launches import Launch, LaunchRefused
from proctoring.lti.models import ResourceLink

# The custom parameter that names the exam (set on the link in the platform: exam=<slug>).
EXAM_PARAMETER = "exam"


def platform_slug(issuer: str) -> str:
    """The platform name an issuer's users are kept under (`ExternalUser.platform`): one per issuer,
    as `sub` is unique within its issuer; `lti-` keeps it apart from the API keys' platforms."""
    return "lti-" + hashlib.sha256(issuer.encode()).hexdigest()[:24]


def linked_exam(launch: Launch) -> Exam:
    """The exam of the launch's link: a `ResourceLink` set in the admin, else the `exam` custom
    parameter; one the platform may open."""
    link = ResourceLink.objects.select_related("exam").filter(
        platform=launch.platform, resource_link_id=launch.resource_link_id
    )
    exam = link[0].exam if link else None
    slug = launch.custom.get(EXAM_PARAMETER, "")
    if exam is None and slug:
        exam = Exam.objects.filter(slug=slug).first()
        if exam is None:
            raise LaunchRefused(404, f"the link names exam {slug[:50]!r}, which does not exist")
    if exam is None:
        raise LaunchRefused(
            404,
            f"this link ({launch.resource_link_id[:50]!r}) is not linked to an exam: give it the custom "
            f"parameter {EXAM_PARAMETER}=<exam slug>, or link it in the admin",
        )
    if not launch.platform.reaches(exam):
        raise LaunchRefused(403, f"exam {exam.slug!r} is not open to {launch.platform.name}'s links")
    return exam


def open_attempt(launch: Launch) -> tuple[User, Attempt]:
    """The launch's user and their open attempt at the linked exam, started if there is none (never
    a second: the user's row is locked while looking). Learners only: a teacher's launch would use
    up an attempt of their own."""
    exam = linked_exam(launch)
    if not launch.is_learner:
        raise LaunchRefused(
            403, "this link starts exam attempts for learners; your role in the course is not one"
        )
    if len(launch.subject) > platform_users.ID_MAX:
        raise LaunchRefused(400, f"the user id is longer than {platform_users.ID_MAX} characters")
    with transaction.atomic():
        link = platform_users.locked(platform_slug(launch.platform.issuer), launch.subject, launch.name)
        existing = Attempt.objects.filter(user=link.user, exam=exam, ended_at__isnull=True).first()
        if existing is not None:
            lifecycle.enforce_deadline(existing)
        try:
            attempt = start_attempt(link.user, exam, enrolled=True)
        except ExamClosed as exc:
            raise LaunchRefused(409, str(exc)) from None
    return link.user, attempt
