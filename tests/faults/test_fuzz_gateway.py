"""The gateway under random input: random text, binary, JSON and oversized messages never crash
the consumer, never get an ack, and each get exactly one answer with a documented error code;
the socket keeps serving a good frame afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from proctoring.core.protocol import ErrorCode
from proctoring.gateway.tokens import make_token
from proctoring.store.connections import get_redis
from proctoring_site.asgi import application
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CODES = {code.value for code in ErrorCode}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FRAME_LIKE = st.fixed_dictionaries(
    {"type": st.just("frame")},
    optional={
        "image": st.text(max_size=40) | st.integers() | st.none(),
        "captured_at": st.text(max_size=30) | st.integers() | st.none(),
        "seq": st.integers(),
    },
)
MESSAGE = st.one_of(
    st.builds(lambda text: {"text_data": text}, st.text(max_size=200)),
    st.builds(lambda data: {"bytes_data": data}, st.binary(max_size=300)),
    st.builds(lambda data: {"bytes_data": b"\xff\xd8\xff" + data}, st.binary(max_size=300)),  # JPEG magic
    st.builds(lambda data: {"bytes_data": b"\x89PNG\r\n\x1a\n" + data}, st.binary(max_size=300)),
    st.builds(lambda value: {"text_data": json.dumps(value)}, JSON),
    st.builds(lambda value: {"text_data": json.dumps(value)}, FRAME_LIKE),
)


def converse(path: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        communicator = WebsocketCommunicator(application, path)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        replies = []
        try:
            for message in messages:
                # As daphne passes it on (send_to() refuses empty messages, which clients can send).
                key = "text" if "text_data" in message else "bytes"
                value = message.get("text_data", message.get("bytes_data"))
                await communicator.send_input({"type": "websocket.receive", key: value})
                replies.append(await communicator.receive_json_from(timeout=5))
            assert await communicator.receive_nothing(timeout=0.05), "one answer per message"
        finally:
            await communicator.disconnect()
        return replies

    return async_to_sync(run)()


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(MESSAGE, min_size=1, max_size=6))
def test_random_messages_get_one_documented_error_each_and_the_socket_keeps_serving(attempt, messages):
    get_redis().flushall()  # each example starts empty (the good frames of earlier ones fill the slots)
    path = f"/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    replies = converse(path, [*messages, {"bytes_data": jpeg_bytes()}])
    *answers, last = replies
    for seq, answer in enumerate(answers, start=1):
        assert answer["type"] == "error", f"garbage was acked: {messages[seq - 1]!r}"
        assert answer["code"] in CODES and answer["seq"] == seq and answer["detail"]
    assert last["type"] == "ack" and last["seq"] == len(messages) + 1


def test_empty_and_oversized_messages(attempt, settings):
    settings.PROCTORING_MAX_FRAME_BYTES = 4096
    path = f"/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    huge = b"\xff\xd8\xff" + b"\x00" * 5000
    replies = converse(
        path,
        [
            {"bytes_data": b""},
            {"text_data": ""},
            {"bytes_data": huge},
            {"text_data": json.dumps({"type": "frame", "image": "A" * 20000})},
            {"text_data": "x" * 300_000},
        ],
    )
    assert [reply["code"] for reply in replies] == [
        ErrorCode.BAD_FRAME,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.BAD_MESSAGE,
    ]
