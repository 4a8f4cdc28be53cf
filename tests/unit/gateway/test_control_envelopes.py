"""What the gateway's attempt-control subscriber takes from the channel, and what a camera's
`message_read` is, as plain functions."""

from __future__ import annotations

import json

import pytest

from proctoring.core.exceptions import BadMessage
from proctoring.core.frames import parse_message_read
from proctoring.gateway.control import MAX_ENVELOPE_BYTES, Envelope, parse_envelope


def test_an_envelope_is_an_attempt_a_payload_and_whether_it_is_final():
    raw = json.dumps({"attempt": "a1", "payload": '{"type": "attempt"}', "final": True})
    assert parse_envelope(raw.encode()) == Envelope("a1", '{"type": "attempt"}', True)
    assert parse_envelope(json.dumps({"attempt": "a1", "payload": "p"})) == Envelope("a1", "p", False)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"attempt": 7, "payload": "p"}).encode(),
        json.dumps({"attempt": "a1", "payload": {"type": "attempt"}}).encode(),
        json.dumps({"attempt": "a1", "payload": "p", "final": "yes"}).encode(),
        json.dumps({"attempt": "a1", "payload": "p" * MAX_ENVELOPE_BYTES}).encode(),
        12,
    ],
)
def test_anything_else_on_the_channel_is_dropped(raw, caplog):
    assert parse_envelope(raw) is None
    assert "ignored" in caplog.text


def test_message_read_gives_its_id_and_a_frame_is_not_one():
    assert parse_message_read(json.dumps({"type": "message_read", "id": 17})) == 17
    assert parse_message_read('{"type" : "message_read" , "id":3}') == 3
    assert parse_message_read(json.dumps({"type": "frame", "image": "AAAA"})) is None
    assert parse_message_read('not json, but names "message_read"') is None
    assert parse_message_read(json.dumps({"type": "frame", "note": "message_read"})) is None


@pytest.mark.parametrize("bad_id", [None, "17", 0, -1, 1.5, True, 2**63])
def test_message_read_without_a_positive_integer_id_is_a_bad_message(bad_id):
    with pytest.raises(BadMessage, match="message_read needs 'id'"):
        parse_message_read(json.dumps({"type": "message_read", "id": bad_id}))
