"""WebSocket conversations in process, through Channels' WebsocketCommunicator and the real ASGI
application: a camera's token path, a logged-in user's session headers, replies and close codes; and
a listener on the real channel layer's events group."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from exams.models import Attempt
from proctoring.core import events
from proctoring.gateway.tokens import make_token
from proctoring_site.asgi import application


def token_path(attempt: Attempt, token: str | None = None) -> str:
    return f"/ws/proctoring/{attempt.pk}/?token={token or make_token(attempt)}"


def session_headers(
    user: Any, origin: str | None = "http://testserver", host: str | None = None
) -> list[tuple[bytes, bytes]]:
    """A logged-in user's cookie, with an `Origin` and (as a browser sends it) a `Host` header."""
    client = Client()
    client.force_login(user)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    if host:
        headers.append((b"host", host.encode()))
    return headers


def converse(path: str, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None):
    """Connects, sends each message (send_to kwargs), and returns the replies, one per message."""

    async def run() -> list[dict[str, Any]]:
        communicator = WebsocketCommunicator(application, path, headers=headers or [])
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        replies = []
        try:
            for message in messages:
                await communicator.send_to(**message)
                replies.append(await communicator.receive_json_from(timeout=5))
            assert await communicator.receive_nothing(timeout=0.05), "one reply per frame, no more"
        finally:
            await communicator.disconnect()
        return replies

    return async_to_sync(run)()


def close_code(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int | None:
    """The close code the server answers a connection with (None if it stays open)."""

    async def run() -> int | None:
        communicator = WebsocketCommunicator(application, path, headers=headers or [])
        connected, code = await communicator.connect(timeout=5)
        if not connected:
            return 403 if code is None else int(code)  # refused handshake
        output = await communicator.receive_output(timeout=5)
        await communicator.wait()
        return int(output["code"]) if output["type"] == "websocket.close" else None

    return async_to_sync(run)()


class Listener:
    """A channel in the events group, as a watcher's consumer would have."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(events.GROUP, self.channel)

    def next_events(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            import asyncio

            received: list[dict[str, Any]] = []
            while len(received) < count:
                message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                assert message["type"] == events.MESSAGE_TYPE
                received.extend(message["events"])
            return received

        return async_to_sync(run)()
