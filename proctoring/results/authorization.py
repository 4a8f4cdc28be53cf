"""Who may see and act on what: proctors see the exams they are assigned to (`Exam.proctors`) and
everything of those exams' attempts; queue operators hold `proctoring.view_queue` (the queue
pages) and `proctoring.operate_queue` (their actions); superusers may do everything. Any other
account, staff or not, may do none of it.

Every staff page and socket asks these functions; they answer from the database, never from
`is_staff` alone. The views decide the answer's status: a page of no role of the user's is a 403,
an object outside the user's exams is a 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from exams.models import Attempt, Exam
from proctoring.core.selftest import TEST_EXAM_SLUG
from proctoring.models import FrameResult, Incident

VIEW_QUEUE = "proctoring.view_queue"
OPERATE_QUEUE = "proctoring.operate_queue"


def is_active_staff(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def can_view_queue(user: Any) -> bool:
    """The queue pages: figures, clients, waiting and failed jobs' metadata (not their images)."""
    return is_active_staff(user) and bool(user.has_perm(VIEW_QUEUE))


def can_operate_queue(user: Any) -> bool:
    """Pause, resume, retry, delete, clean, send a test frame."""
    return is_active_staff(user) and bool(user.has_perm(OPERATE_QUEUE))


def proctored_exams(user: Any) -> QuerySet[Exam]:
    """The exams whose attempts the user may see: a superuser's are all of them, a proctor's those
    assigned, anyone else's none."""
    if not is_active_staff(user):
        return Exam.objects.none()
    if user.is_superuser:
        return Exam.objects.all()
    return Exam.objects.filter(proctors=user)


def is_proctor(user: Any) -> bool:
    """Whether the user proctors any exam (the dashboard's pages are theirs)."""
    return proctored_exams(user).exists()


def exam_of(user: Any, slug: str) -> Exam | None:
    return proctored_exams(user).filter(slug=slug).first()


def attempts(user: Any) -> QuerySet[Attempt]:
    return Attempt.objects.filter(exam__in=proctored_exams(user))


def attempt_of(user: Any, attempt_id: Any) -> Attempt | None:
    """The attempt, if the user proctors its exam."""
    if not _is_uuid(attempt_id):
        return None
    return attempts(user).select_related("user", "exam").filter(pk=attempt_id).first()


def incident_of(user: Any, incident_id: int) -> Incident | None:
    return Incident.objects.filter(pk=incident_id, attempt__exam__in=proctored_exams(user)).first()


def snapshot_of(user: Any, job_id: str) -> FrameResult | None:
    """The frame result named by its job id (a random hex, not a sequence) that holds a snapshot,
    if the user proctors its exam."""
    return (
        FrameResult.objects.filter(job_id=job_id, attempt__exam__in=proctored_exams(user))
        .exclude(snapshot_key="")
        .first()
    )


def may_see_frames_of(user: Any, client_id: str | None) -> bool:
    """Whether the user may see a queued or failed frame's image of this client: as a superuser,
    a proctor of its attempt's exam, or any queue operator for the self test's client (a drawn
    picture, no one's face). Figures and metadata need only the queue's view permission."""
    if is_active_staff(user) and user.is_superuser:
        return True  # any client's, also one that is no attempt (a load test's, a bench's)
    if not client_id:
        return False
    if attempt_of(user, client_id) is not None:
        return True
    if not _is_uuid(client_id):
        return False
    self_test = Attempt.objects.filter(pk=client_id, exam__slug=TEST_EXAM_SLUG).exists()
    return self_test and can_view_queue(user)


def _is_uuid(value: Any) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
