"""What the API's calls do to attempts, as plain functions: open (or find) a platform user's
attempt, end it, and the facts the answers carry. State changes go through `exams.lifecycle`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Exam
from exams.services import ExamClosed, start_attempt
from proctoring.api import keys, platform_users
from proctoring.api.errors import ApiError, Code
from proctoring.gateway.tokens import make_token
from proctoring.models import ApiKey, ExternalUser, Incident
from proctoring.results import incidents

CONSENT_REASON = "consent to proctoring collected by the platform"
END_REASON = "ended by the platform"


@dataclass(frozen=True)
class Opened:
    attempt: Attempt
    created: bool


def exam_in_scope(key: ApiKey, slug: str) -> Exam:
    """The exam of that slug if the key reaches it; an unknown slug is refused alike (403), so
    a key learns nothing of the exams outside its scope."""
    exam = Exam.objects.filter(slug=slug).first()
    if exam is None or not keys.reaches(key, exam):
        raise ApiError(
            403, Code.EXAM_OUT_OF_SCOPE, f"exam {slug[:50]!r} is not within this API key's scope", "exam"
        )
    return exam


def attempt_in_scope(key: ApiKey, attempt_id: str) -> Attempt:
    """The attempt if its exam is within the key's scope; else 404, as for one that does not exist."""
    try:
        pk = uuid.UUID(str(attempt_id))
    except ValueError:
        pk = None
    attempt = Attempt.objects.select_related("exam", "user").filter(pk=pk).first() if pk else None
    if attempt is None or not keys.reaches(key, attempt.exam):
        raise ApiError(404, Code.NOT_FOUND, "no such attempt among this API key's exams")
    return lifecycle.enforce_deadline(attempt)


def open_attempt(
    key: ApiKey, exam: Exam, external_id: str, display_name: str = "", consented: bool = False
) -> Opened:
    """The platform user's open attempt at the exam, or a new one (never a second: the user's row
    is locked while looking). The key's scope is the enrolment: the exam's group is not asked.
    `consented`: the platform collected the exam taker's consent to proctoring, which the camera
    needs; recorded once."""
    with transaction.atomic():
        link = platform_users.locked(key.platform, external_id, display_name)
        existing = Attempt.objects.filter(user=link.user, exam=exam, ended_at__isnull=True).first()
        if existing is not None:
            existing = lifecycle.enforce_deadline(existing)
        created = existing is None or not existing.is_open
        try:
            attempt = start_attempt(link.user, exam, enrolled=True)
        except ExamClosed as exc:
            raise ApiError(409, Code.EXAM_CLOSED, str(exc), "exam") from None
        if consented and attempt.status == Attempt.Status.STARTED:
            attempt = lifecycle.apply(
                attempt, lifecycle.Action.BEGIN, by=link.user, reason=CONSENT_REASON
            ).attempt
    return Opened(attempt, created)


def end(attempt: Attempt, reason: str = "", submit: bool = False) -> tuple[Attempt, bool]:
    """Ends the attempt: terminated, or submitted (scored) with `submit`. An attempt already
    ended is left as it is. Returns it and whether this call ended it.

    Raises:
        ApiError: 409 if its state does not allow it (submitting one paused or not yet begun).
    """
    if not attempt.is_open:
        return attempt, False
    action = lifecycle.Action.SUBMIT if submit else lifecycle.Action.TERMINATE
    try:
        outcome = lifecycle.apply(attempt, action, reason=(reason or END_REASON))
    except lifecycle.TransitionRefused as exc:
        current = Attempt.objects.select_related("exam", "user").get(pk=attempt.pk)
        if not current.is_open:  # ended in between
            return current, False
        raise ApiError(409, Code.TRANSITION_REFUSED, str(exc), "submit" if submit else None) from None
    return outcome.attempt, True


def external_id_of(attempt: Attempt) -> str | None:
    link = ExternalUser.objects.filter(user_id=attempt.user_id).only("external_id").first()
    return link.external_id if link is not None else None


def external_ids(user_ids: list[int]) -> dict[int, str]:
    """The platform ids of these users (those who have one), in one query."""
    rows = ExternalUser.objects.filter(user_id__in=user_ids).values_list("user_id", "external_id")
    return dict(rows)


def ws_paths(attempt: Attempt) -> dict[str, str]:
    """The camera's socket for the attempt, and a token for it (docs/protocol.md)."""
    token = make_token(attempt)
    return {
        "token": token,
        "socket_path": f"/ws/proctoring/{attempt.pk}/",
        "ws_path": f"/ws/proctoring/{attempt.pk}/?token={token}",
    }


def facts(attempt: Attempt, now: datetime | None = None, *, camera: bool = True) -> dict[str, Any]:
    """An attempt as the API answers it."""
    now = now or timezone.now()
    found: dict[str, Any] = {
        "id": attempt.pk,
        "exam": attempt.exam.slug,
        "external_user": external_id_of(attempt),
        "display_name": attempt.user.first_name,
        "status": attempt.status,
        "started_at": attempt.started_at,
        "consented_at": attempt.consented_at,
        "ended_at": attempt.ended_at,
        "end_reason": attempt.end_reason,
        "deadline": attempt.deadline(now),
        "seconds_left": attempt.seconds_left(now),
    }
    if camera and attempt.is_open:
        found.update(ws_paths(attempt))
    else:
        found.update({"token": None, "socket_path": None, "ws_path": None})
    return found


def detail(attempt: Attempt) -> dict[str, Any]:
    """`facts`, with the risk summary and incident counts."""
    found = facts(attempt)
    found["risk"] = incidents.risk_summary(attempt)
    found["open_incidents"] = Incident.objects.filter(attempt=attempt, closed_at__isnull=True).count()
    found["pending_review"] = Incident.objects.filter(
        attempt=attempt, review_status=Incident.Review.PENDING
    ).count()
    return found
