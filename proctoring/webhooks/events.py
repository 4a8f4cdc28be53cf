"""From committed changes to deliveries: the event types, their payloads, and `emit`, which
records one delivery per endpoint that wants the event and may hear of its exam, and queues
each once that is committed.

A payload reads `{"type": …, "timestamp": …, "data": {…}}` (docs/integration.md#webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Transition
from proctoring.models import ExternalUser, Incident, WebhookDelivery, WebhookEndpoint
from proctoring.results import incidents
from proctoring.webhooks import delivery, signing

log = logging.getLogger(__name__)

ATTEMPT_STARTED = "attempt.started"
ATTEMPT_ENDED = "attempt.ended"
INCIDENT_OPENED = "incident.opened"
INCIDENT_CLOSED = "incident.closed"
INCIDENT_REVIEWED = "incident.reviewed"
TYPES = (ATTEMPT_STARTED, ATTEMPT_ENDED, INCIDENT_OPENED, INCIDENT_CLOSED, INCIDENT_REVIEWED)
BY_CHANGE = {
    incidents.OPENED: INCIDENT_OPENED,
    incidents.CLOSED: INCIDENT_CLOSED,
    incidents.REVIEWED: INCIDENT_REVIEWED,
}


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def attempt_data(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": str(attempt.pk),
        "exam": attempt.exam.slug,
        "status": attempt.status,
        "reason": attempt.end_reason,
        "started_at": _time(attempt.consented_at),
        "ended_at": _time(attempt.ended_at),
    }


def incident_data(incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.pk,
        "attempt_id": str(incident.attempt_id),
        "exam": incident.attempt.exam.slug,
        "kind": incident.kind,
        "severity": incident.severity,
        "first_seen": _time(incident.first_seen),
        "last_seen": _time(incident.last_seen),
        "frame_count": incident.frame_count,
        "closed_at": _time(incident.closed_at),
        "review_status": incident.review_status,
        "reviewed_at": _time(incident.reviewed_at),
    }


def payload(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"type": event_type, "timestamp": at.isoformat(), "data": data}


def hears(endpoint: WebhookEndpoint, event_type: str, exam_id: int) -> bool:
    """Whether the endpoint is sent this event: active, wants its type, and reaches its exam (an
    endpoint of a revoked key reaches none; one made in the admin, every exam)."""
    if not endpoint.is_active or event_type not in endpoint.event_types:
        return False
    key = endpoint.owner
    if key is None:
        return True
    if not key.is_active:
        return False
    return key.all_exams or any(exam.pk == exam_id for exam in key.exams.all())


def emit(event_type: str, attempt: Attempt, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Records the event's delivery to each endpoint that hears it and queues them once committed.
    `data["external_user"]` is the attempt's user's id on the endpoint's own platform (any
    platform for an endpoint made in the admin), else null."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(disabled_at__isnull=True)
        .select_related("owner")
        .prefetch_related("owner__exams")
        if hears(endpoint, event_type, attempt.exam_id)
    ]
    if not endpoints:
        return []
    external = ExternalUser.objects.filter(user_id=attempt.user_id).first()
    now = timezone.now()
    message_id = signing.new_message_id()
    with transaction.atomic():
        made = [
            WebhookDelivery.objects.create(
                endpoint=endpoint,
                event_id=message_id,
                event_type=event_type,
                payload=payload(event_type, {**data, "external_user": _external_id(external, endpoint)}, now),
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
        ids = [made_one.pk for made_one in made]
        transaction.on_commit(lambda: delivery.enqueue_all(ids))
    return made


def _external_id(external: ExternalUser | None, endpoint: WebhookEndpoint) -> str | None:
    if external is None:
        return None
    if endpoint.owner is not None and endpoint.owner.platform != external.platform:
        return None
    return external.external_id


def on_attempt_changed(sender: Any, attempt: Attempt, transition: Transition, **kwargs: Any) -> None:
    if transition.action == lifecycle.Action.BEGIN:
        event_type = ATTEMPT_STARTED
    elif transition.to_status in Attempt.ENDED and transition.from_status not in Attempt.ENDED:
        event_type = ATTEMPT_ENDED
    else:
        return
    _safely(event_type, lambda: attempt, attempt_data)


def on_incident_changed(sender: Any, incident: Incident, change: str, **kwargs: Any) -> None:
    event_type = BY_CHANGE.get(change)
    if event_type is not None:
        _safely(event_type, lambda: incident.attempt, lambda _: incident_data(incident))


def _safely(
    event_type: str, attempt_of: Callable[[], Attempt], data_of: Callable[[Attempt], dict[str, Any]]
) -> None:
    """Emits, reading the rows only when some endpoint is active (a frame worker's writer thread
    announces every incident); a failure is logged, never raised into the change already
    committed."""
    try:
        if not WebhookEndpoint.objects.filter(disabled_at__isnull=True).exists():
            return
        attempt = attempt_of()
        emit(event_type, attempt, data_of(attempt))
    except Exception:
        log.exception("could not record the %s webhooks", event_type)


def connect() -> None:
    lifecycle.attempt_changed.connect(on_attempt_changed, dispatch_uid="proctoring-webhooks-attempts")
    incidents.incident_changed.connect(on_incident_changed, dispatch_uid="proctoring-webhooks-incidents")
