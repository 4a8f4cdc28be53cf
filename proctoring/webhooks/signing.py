"""Standard Webhooks signatures, by the `standardwebhooks` package: the secrets endpoints are
given and the three headers every message carries."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A new endpoint's secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A message's `webhook-id`: `msg_` + 27 URL-safe random characters."""
    return "msg_" + secrets.token_urlsafe(20)


def headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
    (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`) of a message sent at `at`."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def masked(secret: str) -> str:
    """Enough of a secret to tell two apart, not to sign with."""
    return secret[: len(SECRET_PREFIX) + 4] + "…" if secret else ""
