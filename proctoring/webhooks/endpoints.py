"""Endpoints registered, listed, removed; a delivery sent again. Plain functions, called by the
API's views and the admin (which audit them).

Where an endpoint may point: `https://` anywhere, `http://` only to a loopback host (127.0.0.0/8,
::1, localhost: a receiver on the same machine) unless `PROCTORING_WEBHOOK_ALLOW_HTTP` (on with
`DJANGO_DEBUG`). No user or password in the URL (it would be stored and shown in the admin), no
fragment. The secret travels only in each message's signature, so it is never sent in the clear,
but the payload is: over http, to another host, anyone on the path could read it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from proctoring.models import ApiKey, WebhookDelivery, WebhookEndpoint
from proctoring.webhooks import delivery, events, signing

URL_MAX = 500
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_LOOPBACK = r"(?:127\.0\.0\.1|localhost|\[::1\])"
_REST = r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?(?:\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?"
# The URLs always accepted, as the API's schema states them (ASCII hosts of up to six labels; an
# IDN host in its xn-- form). `check_url` is the rule; it also accepts some this does not say.
URL_PATTERN = (
    rf"^(?:https://(?:(?:{_LABEL}\.){{1,6}}[A-Za-z]{{2,24}}|{_LOOPBACK})|http://{_LOOPBACK}){_REST}$"
)


class InvalidEndpoint(ValueError):
    """A URL or event type an endpoint cannot have; `field` names which."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class TooMany(Exception):
    """The key has `PROCTORING_WEBHOOKS_PER_KEY` endpoints already."""


@dataclass(frozen=True)
class Registered:
    endpoint: WebhookEndpoint
    secret: str  # also on the row (it signs); answered once by the API


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL, if an endpoint may have it.

    Raises:
        InvalidEndpoint: not an absolute http(s) URL, too long, with credentials or a fragment,
            or plain http to a host that is not loopback while that is not allowed.
    """
    url = url.strip()
    if len(url) > URL_MAX:
        raise InvalidEndpoint(f"the URL is {len(url)} characters long, at most {URL_MAX} are allowed", "url")
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
    except (ValidationError, ValueError):
        raise InvalidEndpoint(f"not an http(s) URL: {url[:100]!r}", "url") from None
    if parts.username or parts.password or parts.fragment:
        raise InvalidEndpoint("the URL may have no user, password or #fragment", "url")
    host = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback(host) and not settings.PROCTORING_WEBHOOK_ALLOW_HTTP:
        raise InvalidEndpoint(f"use https:// (http:// is allowed to loopback only), got {url[:100]!r}", "url")
    return url


def check_event_types(event_types: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(event_types))
    unknown = [name for name in wanted if name not in events.TYPES]
    if unknown or not wanted:
        raise InvalidEndpoint(
            f"event types must be some of {', '.join(events.TYPES)}, got {unknown or wanted!r}", "event_types"
        )
    return wanted


def register(
    url: str, event_types: Iterable[str], *, owner: ApiKey | None = None, description: str = ""
) -> Registered:
    """A new endpoint with a new secret; `owner`'s exams only (None: every exam).

    Raises:
        InvalidEndpoint: see `check_url`, or no or unknown event types.
        TooMany: the key has `PROCTORING_WEBHOOKS_PER_KEY` endpoints already.
    """
    url = check_url(url)
    wanted = check_event_types(event_types)
    with transaction.atomic():
        if owner is not None:
            ApiKey.objects.select_for_update().filter(pk=owner.pk).first()  # one count at a time per key
            if owner.webhook_endpoints.count() >= settings.PROCTORING_WEBHOOKS_PER_KEY:
                raise TooMany(
                    f"this API key has {settings.PROCTORING_WEBHOOKS_PER_KEY} webhook endpoints already"
                )
        secret = signing.new_secret()
        endpoint = WebhookEndpoint.objects.create(
            url=url, secret=secret, event_types=wanted, owner=owner, description=description[:200]
        )
    return Registered(endpoint, secret)


def of_key(key: ApiKey) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(owner=key).order_by("created_at", "pk"))


def find_of_key(key: ApiKey, endpoint_id: str) -> WebhookEndpoint | None:
    if not str(endpoint_id).isdigit() or len(str(endpoint_id)) > 18:
        return None
    return WebhookEndpoint.objects.filter(owner=key, pk=int(endpoint_id)).first()


def redeliver(original: WebhookDelivery) -> WebhookDelivery | None:
    """Sends a delivery's message again, as a new delivery of the same `webhook-id` (a
    receiver that kept it drops the repeat) with a fresh retry schedule; None if its endpoint
    is disabled (enable it first)."""
    endpoint = original.endpoint
    endpoint.refresh_from_db(fields=["disabled_at"])
    if not endpoint.is_active:
        return None
    now = timezone.now()
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=original.event_id,
            event_type=original.event_type,
            payload=original.payload,
            next_attempt_at=now,
            redelivery_of=original,
        )
        transaction.on_commit(lambda: delivery.enqueue_all([again.pk]))
    return again
