"""What the gateway believes of a frame: its picture's size (bounded in pixels, read from the
header), through Channels' WebsocketCommunicator and a real Redis."""

from __future__ import annotations

import base64
import json

import pytest

from proctoring.core.protocol import ErrorCode
from proctoring.store import keys
from tests.communicators import converse, token_path
from tests.support import claiming_size, jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def text_frame(captured_at: str | None = None, image: bytes | None = None) -> dict[str, str]:
    message = {"type": "frame", "image": base64.b64encode(image or jpeg_bytes()).decode()}
    if captured_at is not None:
        message["captured_at"] = captured_at
    return {"text_data": json.dumps(message)}


# --- pixels -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("image", [jpeg_bytes(), png_bytes()], ids=["jpeg", "png"])
def test_a_frame_claiming_8192_by_8192_is_a_bad_frame_and_nothing_is_queued(attempt, redis_conn, image):
    [reply] = converse(token_path(attempt), [{"bytes_data": claiming_size(image, 8192, 8192)}])
    assert reply["type"] == "error" and reply["code"] == ErrorCode.BAD_FRAME
    assert reply["detail"] == "image is 8192x8192 (67108864 pixels); the limit is 2073600 pixels"
    assert redis_conn.llen("rq:queue:proctoring") == 0
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 0


def test_the_gateway_applies_proctoring_max_frame_pixels(attempt, settings):
    settings.PROCTORING_MAX_FRAME_PIXELS = 640 * 480
    replies = converse(
        token_path(attempt),
        [
            {"bytes_data": claiming_size(jpeg_bytes(), 640, 480)},
            {"bytes_data": claiming_size(jpeg_bytes(), 641, 480)},
            text_frame(image=claiming_size(png_bytes(), 1280, 720)),
        ],
    )
    assert [reply.get("code", reply["type"]) for reply in replies] == ["ack", "bad_frame", "bad_frame"]
    assert "the limit is 307200 pixels" in replies[1]["detail"]
