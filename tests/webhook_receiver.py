"""A receiver's side of a webhook, written from the Standard Webhooks text with nothing but
hmac, hashlib and base64: the tests hold our signatures to it, not to the library that made them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def expected_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """What a receiver does: the timestamp within the tolerance, and one of the space-separated
    `v1,` signatures equal (in constant time) to the one it computes."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp = lowered["webhook-id"], lowered["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    wanted = expected_signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(given, wanted) for given in lowered["webhook-signature"].split(" "))
