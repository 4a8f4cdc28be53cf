"""Signatures hold against an independent receiver (plain hmac/hashlib/base64), and secrets and
message ids take the Standard Webhooks shapes."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

from proctoring.models import WebhookDelivery
from proctoring.webhooks import delivery, signing
from tests.webhook_receiver import expected_signature, verify


def test_a_secret_is_whsec_and_32_random_bytes_in_base64():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.new_secret() != secret


def test_a_message_id_is_msg_and_url_safe():
    assert re.fullmatch(r"msg_[A-Za-z0-9_-]{20,}", signing.new_message_id())


def test_the_headers_verify_with_an_independent_implementation():
    secret = signing.new_secret()
    body = json.dumps({"type": "attempt.ended", "data": {"attempt_id": "a"}})
    now = datetime.now(UTC)
    headers = signing.headers(secret, "msg_abc", now, body)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"] == expected_signature(
        secret, "msg_abc", headers["webhook-timestamp"], body.encode()
    )
    assert verify(secret, headers, body.encode())


def test_a_changed_body_id_or_secret_does_not_verify():
    secret = signing.new_secret()
    body = b'{"type":"attempt.started"}'
    headers = signing.headers(secret, "msg_1", datetime.now(UTC), body.decode())
    assert not verify(secret, headers, body.replace(b"started", b"ended"))
    assert not verify(secret, {**headers, "webhook-id": "msg_2"}, body)
    assert not verify(signing.new_secret(), headers, body)


def test_the_timestamp_is_unix_seconds_whatever_the_time_zone_given():
    moment = datetime(2026, 12, 3, 9, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    secret = signing.new_secret()
    headers = signing.headers(secret, "msg_1", moment, "{}")
    assert headers["webhook-timestamp"] == str(int(moment.timestamp())) == "1796281200"
    assert headers["webhook-signature"] == expected_signature(secret, "msg_1", "1796281200", b"{}")


def test_the_body_sent_is_the_body_signed_compact_and_ascii():
    row = WebhookDelivery(payload={"type": "incident.opened", "data": {"kind": "no_face", "name": "Zoë"}})
    body = delivery.body_of(row)
    assert body.isascii() and " " not in body
    assert json.loads(body) == row.payload


def test_a_secret_is_masked_to_its_first_characters():
    assert signing.masked("whsec_abcdefgh") == "whsec_abcd…"
