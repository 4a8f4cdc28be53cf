"""A client whose frames the API keeps refusing is slowed, then refused at the gateway until a
cooldown passes (issue 18, finding 1b): each refused frame costs an API call and a failed job's
metadata, so a camera sending what the API will never take must not go on for the whole exam.

The refusals are recorded by the worker's own outcome functions (`proctoring.worker.outcomes`),
the frames sent through Channels' WebsocketCommunicator to the real consumer and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from proctoring.core.protocol import ErrorCode
from proctoring.gateway.throttle import MIN_FPS
from proctoring.queue import counters
from proctoring.store import keys
from proctoring.worker import outcomes
from proctoring_site.asgi import application
from tests.communicators import token_path
from tests.support import jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def stream(path: str, frames: int) -> list[dict[str, Any]]:
    """Sends `frames` frames, each after the answer to the one before; every message received."""

    async def run() -> list[dict[str, Any]]:
        communicator = WebsocketCommunicator(application, path)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        received: list[dict[str, Any]] = []
        try:
            for seq in range(1, frames + 1):
                await communicator.send_to(bytes_data=jpeg_bytes())
                while True:
                    message = await communicator.receive_json_from(timeout=5)
                    received.append(message)
                    if message.get("seq") == seq:
                        break
        finally:
            await communicator.disconnect()
        return received

    return async_to_sync(run)()


def refuse(client_id: str, count: int) -> None:
    """`count` of the client's frames finally failed as refused by the API (a 4xx)."""
    for number in range(count):
        outcomes.finish_failed(client_id, f"refused-{number}", kind="ApiRejected", keep_image=False)


def answers(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] if m["type"] != "error" else m["code"] for m in messages if m["type"] != "throttle"]


def throttles(messages: list[dict[str, Any]]) -> list[float]:
    return [m["fps"] for m in messages if m["type"] == "throttle"]


def test_a_client_whose_frames_are_refused_is_asked_to_slow_down(attempt, settings):
    settings.PROCTORING_REFUSALS_TO_SLOW, settings.PROCTORING_REFUSALS_TO_BLOCK = 3, 10
    refuse(str(attempt.pk), 2)
    assert throttles(stream(token_path(attempt), 2)) == [], "two refusals: full rate"
    refuse(str(attempt.pk), 1)
    messages = stream(token_path(attempt), 2)
    assert answers(messages) == ["ack", "ack"], "slowed, not refused"
    assert throttles(messages) == [MIN_FPS]


def test_past_the_limit_its_frames_are_refused_with_a_clear_code_and_nothing_is_queued(
    attempt, settings, redis_conn
):
    settings.PROCTORING_REFUSALS_TO_SLOW, settings.PROCTORING_REFUSALS_TO_BLOCK = 3, 10
    client = str(attempt.pk)
    refuse(client, 10)
    messages = stream(token_path(attempt), 3)
    assert answers(messages) == [ErrorCode.FRAMES_REFUSED] * 3
    error = next(m for m in messages if m["type"] == "error")
    assert "refused this camera's last 10 frames" in error["detail"]
    assert "not taken for 60 s" in error["detail"]
    assert throttles(messages) == [MIN_FPS]
    assert redis_conn.zcard(keys.client_pending(client)) == 0
    assert counters.read([client])[client]["queued"] == 0
    assert redis_conn.hget(keys.totals(), "received") is None


def test_a_delivered_frame_or_the_cooldown_lets_the_client_in_again(attempt, settings):
    settings.PROCTORING_REFUSALS_TO_BLOCK = 10
    settings.PROCTORING_REFUSAL_COOLDOWN = 1
    client = str(attempt.pk)
    refuse(client, 10)
    assert answers(stream(token_path(attempt), 1)) == [ErrorCode.FRAMES_REFUSED]
    # Nothing else refused for the cooldown: the client is let in again.
    wait_until(lambda: answers(stream(token_path(attempt), 1)) == ["ack"], 10, "let in after the cooldown")

    settings.PROCTORING_REFUSAL_COOLDOWN = 60
    refuse(client, 10)
    assert answers(stream(token_path(attempt), 1)) == [ErrorCode.FRAMES_REFUSED]
    outcomes.finish_delivered(client, "delivered-1")  # e.g. a frame taken before the block
    assert answers(stream(token_path(attempt), 1)) == ["ack"]


def test_zero_turns_either_off(attempt, settings):
    settings.PROCTORING_REFUSALS_TO_SLOW = settings.PROCTORING_REFUSALS_TO_BLOCK = 0
    refuse(str(attempt.pk), 50)
    messages = stream(token_path(attempt), 2)
    assert answers(messages) == ["ack", "ack"]
    assert throttles(messages) == []
