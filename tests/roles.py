"""The staff accounts of each role, as the admin would make them: a proctor of some exams, a queue
operator (view, or view and operate), a superuser, and staff with no permission at all; and an
exam with one of everything a staff URL names."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from exams.models import Attempt, Exam
from proctoring.core.frames import FrameMeta, parse_image
from proctoring.models import FrameResult, Incident
from proctoring.queue import enqueue
from proctoring.results import writer as results
from proctoring.store import keys
from tests.support import fixture, jpeg_bytes

PASSWORD = "staff-pass-123"


def bare_staff(username: str = "nobody") -> Any:
    """Staff with no permission and no exam: may log in to the admin and do nothing there."""
    return get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)


def proctor_of(*exams: Exam, username: str = "proctor") -> Any:
    user = bare_staff(username)
    for exam in exams:
        exam.proctors.add(user)
    return user


def operator(username: str = "operator", operate: bool = True) -> Any:
    user = bare_staff(username)
    codenames = ["view_queue", "operate_queue"] if operate else ["view_queue"]
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="proctoring", codename__in=codenames)
    )
    return user


def superuser(username: str = "admin") -> Any:
    return get_user_model().objects.create_superuser(username, password=PASSWORD)


def flagged_frame(attempt: Attempt, seq: int) -> FrameResult:
    meta = FrameMeta(
        client_id=str(attempt.pk), attempt_id=str(attempt.pk), seq=seq,
        captured_at=attempt.started_at, received_at=attempt.started_at, content_type="image/jpeg",
    )  # fmt: skip
    job_id = f"{attempt.pk.hex[:24]}{seq:08d}"
    results.store_result(meta, job_id, {"flags": ["no_face"]}, fixture("covered.jpg")).result(timeout=30)
    return FrameResult.objects.get(job_id=job_id)


def an_exam_with_everything(exam: Exam, taker: Any, redis_conn: Any) -> dict[str, Any]:
    """An attempt with an incident and its snapshot, a frame waiting in the queue, and that frame
    as the attempt's live thumbnail: every kind of object a staff URL names."""
    attempt = Attempt.objects.create(user=taker, exam=exam, consented_at=timezone.now())
    snapshot = flagged_frame(attempt, 1)
    client_id = str(attempt.pk)
    queued = enqueue.enqueue_frame(client_id, client_id, 2, parse_image(jpeg_bytes(), 1 << 20))
    redis_conn.copy(keys.frame(queued), keys.client_latest(client_id), replace=True)
    return {
        "exam": exam,
        "attempt": attempt,
        "incident": Incident.objects.get(attempt=attempt),
        "snapshot": snapshot,
        "queued": queued,
    }
