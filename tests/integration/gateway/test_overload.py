"""Overload: a global cap on the backlog, throttle messages as the queue fills, frames past
their live window sent late, and frames past the backfill horizon dropped.

Here the tests that need no process;
the others are in tests/processes/gateway/test_overload.py."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from proctoring.core.protocol import ErrorCode
from proctoring.gateway.throttle import MIN_FPS, recommended_fps
from proctoring.gateway.tokens import make_token
from proctoring.store import keys
from proctoring_site.asgi import application
from tests.support import jpeg_bytes


@pytest.mark.parametrize(
    ("queued", "fps"),
    [(0, 2.0), (24, 2.0), (25, 1.5), (49, 1.5), (50, 1.0), (75, 0.5), (99, 0.5), (100, 0.5), (500, 0.5)],
)
def test_recommended_rate_steps_down_as_the_queue_fills(queued, fps):
    assert recommended_fps(queued, 100, 2.0) == fps


def test_recommended_rate_never_goes_below_the_minimum():
    assert recommended_fps(99, 100, 0.4) == MIN_FPS


def messages_after_sending(attempt, frames: int) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        path = f"/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
        communicator = WebsocketCommunicator(application, path)
        assert (await communicator.connect(timeout=5))[0]
        received = []
        for _ in range(frames):
            await communicator.send_to(bytes_data=jpeg_bytes())
            received.append(await communicator.receive_json_from(timeout=5))  # the frame's reply
            while not await communicator.receive_nothing(timeout=0.05):
                received.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return received

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_gateway_asks_for_less_as_the_queue_fills_and_refuses_past_the_cap(attempt, settings, redis_conn):
    settings.PROCTORING_MAX_QUEUED = 4
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100
    messages = messages_after_sending(attempt, 6)
    kinds = [(m["type"], m.get("seq"), m.get("code"), m.get("fps")) for m in messages]
    assert kinds == [
        ("ack", 1, None, None),  # the queue had 0 of 4: full rate, nothing said
        ("ack", 2, None, None),
        ("throttle", None, None, 1.5),  # it had 1 of 4, a quarter: three quarters of the rate
        ("ack", 3, None, None),
        ("throttle", None, None, 1.0),  # half full: half the rate
        ("ack", 4, None, None),
        ("throttle", None, None, 0.5),  # three quarters full: a quarter of the rate
        ("error", 5, ErrorCode.QUEUE_FULL, None),  # four waiting: full, refused
        ("throttle", None, None, MIN_FPS),
        ("error", 6, ErrorCode.QUEUE_FULL, None),  # told once, not again
    ]
    assert redis_conn.llen("rq:queue:proctoring") == 4, "nothing past the cap was queued"
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 4


@pytest.mark.django_db(transaction=True)
def test_throttle_is_lifted_when_the_queue_drains(attempt, settings, redis_conn):
    settings.PROCTORING_MAX_QUEUED = 4
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100
    messages_after_sending(attempt, 4)
    redis_conn.delete("rq:queue:proctoring")  # as if workers had caught up
    messages = messages_after_sending(attempt, 1)
    assert [m["type"] for m in messages] == ["ack"], "a new connection starts at full rate, untold"
