"""Endpoints, a receiver (a real HTTP server on 127.0.0.1) and the deliveries made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proctoring.models import WebhookDelivery, WebhookEndpoint
from proctoring.webhooks import endpoints, events
from tests.support import RecordingApi


@pytest.fixture
def receiver() -> Iterator[RecordingApi]:
    server = RecordingApi().start()
    yield server
    server.stop()


@pytest.fixture
def everything(db: None, receiver: RecordingApi) -> WebhookEndpoint:
    """An endpoint made in the admin: every event, every exam."""
    return endpoints.register(receiver.url, events.TYPES).endpoint


def sent(endpoint: WebhookEndpoint | None = None) -> list[WebhookDelivery]:
    found = WebhookDelivery.objects.order_by("pk")
    return list(found.filter(endpoint=endpoint) if endpoint is not None else found)


def types(endpoint: WebhookEndpoint | None = None) -> list[str]:
    return [delivery.event_type for delivery in sent(endpoint)]
