"""The audit log: `record` appends who did what, to what, when and how it ended, for every action
of a proctor, a queue operator or an admin (`AuditEntry`, never edited; kept
`PROCTORING_AUDIT_RETENTION_DAYS`, then deleted by `retention.purge` alone).

Callers pass the request (its user and address) or a user. Changes made outside a view's own
code (permissions saved by the admin, through signals) find their request in `current_request`,
set by `request_middleware`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from exams.models import Attempt, Exam
from proctoring.models import AuditEntry, FrameResult, Incident

Action = AuditEntry.Action
Outcome = AuditEntry.Outcome
DETAIL_MAX = 4096  # bytes of JSON kept per entry: details say what, they are not a dump
THUMBNAIL_EVERY = timedelta(minutes=10)  # one entry per viewer and attempt per this, not per picture

Target = models.Model | tuple[str, str] | None

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def record(
    who: HttpRequest | Any,
    action: str,
    target: Target = None,
    outcome: str = Outcome.OK,
    *,
    exam: Exam | None = None,
    exam_slug: str = "",
    actor_name: str = "",
    **detail: Any,
) -> AuditEntry:
    """Appends one entry and returns it.

    Args:
        who: the request (its user and address are taken) or a user; None for the system.
        action: an `AuditEntry.Action`.
        target: a model instance (its label and pk; an attempt's, incident's or frame's exam too)
            or a `(type, id)` pair, such as `("job", job_id)`.
        outcome: ok, refused (no role for it) or error (it failed).
        exam: the exam concerned, when the target does not say.
        exam_slug: the exam's slug alone, for an exam that is being deleted.
        actor_name: who acted when no user did (an API key: "api-key:<name>").
        detail: a few JSON values (cut to `DETAIL_MAX` bytes).
    """
    request = who if isinstance(who, HttpRequest) else None
    user: Any = getattr(request, "user", None) if request is not None else who
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    target_type, target_id = _target(target)
    exam = exam or _exam_of(target)
    return AuditEntry.objects.create(
        actor=user,
        actor_username=user.get_username() if user is not None else actor_name[:150],
        action=action,
        target_type=target_type,
        target_id=target_id[:255],
        exam=exam,
        exam_slug=exam.slug if exam is not None else exam_slug,
        outcome=outcome,
        detail=bounded(detail),
        remote_addr=_address(request),
    )


def record_thumbnail(request: HttpRequest, attempt: Attempt) -> None:
    """A live picture seen: recorded once per viewer and attempt per `THUMBNAIL_EVERY` (the grid
    fetches a new one every few seconds for each camera)."""
    user = request.user
    recent = AuditEntry.objects.filter(
        actor=user if user.is_authenticated else None,
        action=Action.THUMBNAIL_VIEWED,
        target_id=str(attempt.pk),
        at__gte=timezone.now() - THUMBNAIL_EVERY,
    )
    if not recent.exists():
        record(request, Action.THUMBNAIL_VIEWED, attempt)


def review_action(status: str) -> str:
    return {
        "reviewed": Action.INCIDENT_REVIEWED,
        "dismissed": Action.INCIDENT_DISMISSED,
        "pending": Action.INCIDENT_REOPENED,
    }.get(status, Action.INCIDENT_REVIEWED)


def bounded(detail: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(detail, default=str)
    if len(text.encode()) <= DETAIL_MAX:
        return dict(json.loads(text))
    return {"truncated": text.encode()[:DETAIL_MAX].decode("utf-8", "ignore")}


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.PROCTORING_AUDIT_RETENTION_DAYS)


def purge(now: datetime | None = None) -> int:
    """Deletes the entries past `PROCTORING_AUDIT_RETENTION_DAYS`; returns how many."""
    return AuditEntry.objects.purge_before(cutoff(now))


def current_request() -> HttpRequest | None:
    """The request being served, for changes recorded from signals."""
    return _request.get()


def request_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return get_response(request)
        finally:
            _request.reset(token)

    return middleware


def _target(target: Target) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, tuple):
        return target[0], str(target[1])
    return target._meta.label_lower, str(target.pk)


def _exam_of(target: Target) -> Exam | None:
    if isinstance(target, Exam):
        return target
    if isinstance(target, Attempt):
        return target.exam
    if isinstance(target, Incident | FrameResult):
        return target.attempt.exam
    return None


def _address(request: HttpRequest | None) -> str | None:
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None
