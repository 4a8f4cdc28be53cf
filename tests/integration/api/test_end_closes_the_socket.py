"""The whole path through the API (issue 22, item 2): a platform opens an attempt, its camera
connects with the answer's ws_path and streams; `end/` closes that socket with 4410 after the
final state, the acked frame stays queued for delivery, and the token is refused from then on."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from proctoring.core.protocol import CloseCode, MessageType
from proctoring.store import keys as redis_keys
from proctoring_site.asgi import application
from tests.integration.api.conftest import create
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_end_through_the_api_closes_the_cameras_socket_4410_and_keeps_its_acked_frame(platform, redis_conn):
    opened = create(platform, user="cam", consented=True).json()

    async def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        socket = WebsocketCommunicator(application, opened["ws_path"])
        connected, _ = await socket.connect(timeout=5)
        assert connected
        await socket.receive_json_from(timeout=5)  # the attempt's state at connect
        await socket.send_to(bytes_data=jpeg_bytes())
        ack = await socket.receive_json_from(timeout=5)
        ended = await database_sync_to_async(platform.post)(
            f"/api/v1/attempts/{opened['id']}/end/", {"reason": "finished in the LMS"}
        )
        final = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        again = WebsocketCommunicator(application, opened["ws_path"])
        await again.connect(timeout=5)
        refused = await again.receive_output(timeout=5)
        return (
            ack,
            {"http_status": ended.status_code, **ended.json()},
            final,
            {"closed": closed, "refused": refused},
        )

    ack, ended, final, socket = async_to_sync(run)()
    assert ack["type"] == MessageType.ACK and ack["seq"] == 1
    assert ended["http_status"] == 200 and ended["status"] == "terminated" and ended["ws_path"] is None
    assert (final["status"], final["ended"], final["reason"]) == ("terminated", True, "finished in the LMS")
    assert (
        socket["closed"]["type"] == "websocket.close" and socket["closed"]["code"] == CloseCode.ATTEMPT_ENDED
    )
    assert socket["refused"]["type"] == "websocket.close"
    assert socket["refused"]["code"] in (CloseCode.FORBIDDEN, CloseCode.UNAUTHENTICATED)
    # The frame acked before the end is still queued for the API.
    assert redis_conn.zcard(redis_keys.client_pending(opened["id"])) == 1
