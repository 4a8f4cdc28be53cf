"""An endpoint's health: since when every attempt to deliver to it has failed, and its
disabling once that has lasted `PROCTORING_WEBHOOK_DISABLE_AFTER` seconds (a day by default).

The operator is told three ways: an ERROR log line, an entry in the audit log
(`webhook.disabled`, by the system), and a warning at the top of the admin's list of webhook
endpoints for as long as one stays disabled. Its pending deliveries fail with it; enabling it
again (admin) starts its count afresh.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from proctoring.models import WebhookDelivery, WebhookEndpoint
from proctoring.results import audit

log = logging.getLogger(__name__)

REASON_MAX = 300


def succeeded(endpoint: WebhookEndpoint) -> None:
    if endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        endpoint.failing_since = None


def failed(endpoint: WebhookEndpoint, at: datetime, status: int | None, error: str) -> bool:
    """Records a failed attempt; disables the endpoint (and says so) once it has failed for
    `PROCTORING_WEBHOOK_DISABLE_AFTER` seconds. True if it is disabled now."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=at)
    endpoint.refresh_from_db(fields=["failing_since", "disabled_at"])
    if endpoint.disabled_at is not None:
        return True
    since = endpoint.failing_since or at
    if at - since < timedelta(seconds=settings.PROCTORING_WEBHOOK_DISABLE_AFTER):
        return False
    last = f"HTTP {status}" if status is not None else error
    disable(endpoint, f"every delivery failed since {since:%Y-%m-%d %H:%M:%S} UTC (last: {last})", at)
    return True


def disable(endpoint: WebhookEndpoint, reason: str, at: datetime | None = None, *, actor: Any = None) -> bool:
    """Disables the endpoint and fails its pending deliveries; False if it already was.
    `actor`: the request or user who did (None: the system, after a day of failures)."""
    at = at or timezone.now()
    reason = reason[:REASON_MAX]
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
        disabled_at=at, disabled_reason=reason
    )
    endpoint.refresh_from_db(fields=["disabled_at", "disabled_reason"])
    if not changed:
        return False
    WebhookDelivery.objects.filter(
        Q(status=WebhookDelivery.Status.PENDING) | Q(status=WebhookDelivery.Status.RETRYING),
        endpoint=endpoint,
    ).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="the endpoint was disabled"
    )
    log.error("webhook endpoint %s (%s) disabled: %s", endpoint.pk, endpoint.url, reason)
    audit.record(
        actor, audit.Action.WEBHOOK_DISABLED, endpoint, actor_name="system", url=endpoint.url, reason=reason
    )
    return True


def enable(endpoint: WebhookEndpoint) -> bool:
    """Enables a disabled endpoint again, its failures forgotten; False if it was not disabled."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=False).update(
        disabled_at=None, disabled_reason="", failing_since=None
    )
    endpoint.refresh_from_db(fields=["disabled_at", "disabled_reason", "failing_since"])
    return bool(changed)
