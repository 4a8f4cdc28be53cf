"""What the gateway believes of a frame: its picture's size (bounded in pixels, read from the header)
and its capture time (kept only near the receive time, else replaced and counted), through
Channels' WebsocketCommunicator and a real Redis."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from proctoring.core.protocol import ErrorCode
from proctoring.ops import stats
from proctoring.queue import counters, envelopes
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


# --- the evidence clock -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claimed",
    [
        pytest.param("2999-01-01T00:00:00Z", id="year-2999"),
        pytest.param("0001-01-01T00:00:00+14:00", id="year-1-east-of-utc"),
        pytest.param("2026-01-01T00:00:00", id="last-winter-without-a-zone"),
    ],
)
def test_a_frame_dated_absurdly_is_acked_stored_at_its_receive_time_and_counted(attempt, claimed):
    before = datetime.now(UTC)
    [reply] = converse(token_path(attempt), [text_frame(claimed)])
    assert reply["type"] == "ack"
    meta = envelopes.read_meta(reply["job_id"])
    assert meta is not None
    assert meta.captured_at == meta.received_at, "the server's clock replaces the client's"
    assert meta.clock_corrected, "and the frame carries the mark to its stored row"
    assert before <= meta.received_at <= datetime.now(UTC)
    assert counters.read([str(attempt.pk)])[str(attempt.pk)]["clock_corrected"] == 1
    assert stats.queue_figures(with_freshness=False)["clock_corrected"] == 1


def test_a_capture_time_just_before_the_receive_time_is_kept_and_not_counted(attempt):
    taken = datetime.now(UTC) - timedelta(seconds=3)
    replies = converse(token_path(attempt), [text_frame(taken.isoformat()), {"bytes_data": jpeg_bytes()}])
    metas = [envelopes.read_meta(reply["job_id"]) for reply in replies]
    assert metas[0] is not None and metas[0].captured_at == taken
    assert metas[1] is not None and metas[1].captured_at == metas[1].received_at, "binary: no claim"
    assert not (metas[0].clock_corrected or metas[1].clock_corrected)
    assert counters.read([str(attempt.pk)])[str(attempt.pk)]["clock_corrected"] == 0
    assert stats.queue_figures(with_freshness=False)["clock_corrected"] == 0


def test_the_window_is_proctoring_captured_at_window(attempt, settings):
    settings.PROCTORING_CAPTURED_AT_WINDOW = (-120.0, 0.0)
    now = datetime.now(UTC)
    replies = converse(
        token_path(attempt),
        [
            text_frame((now - timedelta(seconds=90)).isoformat()),
            text_frame((now + timedelta(seconds=1)).isoformat()),
        ],
    )
    kept, replaced = (envelopes.read_meta(reply["job_id"]) for reply in replies)
    assert kept is not None and kept.captured_at == now - timedelta(seconds=90)
    assert replaced is not None and replaced.captured_at == replaced.received_at
    assert counters.read([str(attempt.pk)])[str(attempt.pk)]["clock_corrected"] == 1
