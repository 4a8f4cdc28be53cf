"""Job events: published on the real channel layer by a real worker, logged, and passed on to
staff over the events WebSocket (and to no one else).

Here the tests that need no process;
the others are in tests/processes/live/test_events.py."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from proctoring.core import events
from proctoring.core.protocol import CloseCode
from proctoring_site.asgi import application
from tests.communicators import Listener, close_code, session_headers
from tests.roles import operator

EVENTS_PATH = "/ws/admin/proctoring/events/"


def test_published_events_reach_the_group_in_batches_and_are_logged(caplog):
    listener = Listener()
    with caplog.at_level("INFO", logger="proctoring.core.events"):
        for seq in range(1, 4):
            events.publish(events.COMPLETED, f"job{seq}", "client-a", seq, flags=[])
        events.publish(events.FAILED, "job9", "client-a", 9, kind="ApiRejected", error="ApiRejected: 400")
    received = listener.next_events(4)
    assert [item["job_id"] for item in received] == ["job1", "job2", "job3", "job9"]
    assert received[3]["error"] == "ApiRejected: 400" and received[3]["event"] == "failed"
    lines = [record for record in caplog.records if record.name == "proctoring.core.events"]
    assert [record.levelname for record in lines] == ["INFO"] * 3 + ["ERROR"]
    assert "job job9 failed (client client-a #9): ApiRejected: 400" in lines[3].getMessage()


def staff_user(is_staff: bool = True) -> Any:
    """A queue operator who may view the queue (the events socket is the overview's), or, without
    `is_staff`, an exam taker."""
    if is_staff:
        return operator("staff", operate=False)
    return get_user_model().objects.create_user("plain", password="staff-pass-123")


@pytest.mark.django_db(transaction=True)
def test_staff_receive_events_over_the_websocket():
    headers = session_headers(staff_user())

    async def run() -> dict[str, Any]:
        communicator = WebsocketCommunicator(application, EVENTS_PATH, headers=headers)
        connected, _ = await communicator.connect(timeout=20)
        assert connected
        try:
            layer = get_channel_layer()
            batch = [events.event(events.COMPLETED, "job1", "client-a", 1, flags=[])]
            await layer.group_send(events.GROUP, {"type": events.MESSAGE_TYPE, "events": batch})
            message: dict[str, Any] = await communicator.receive_json_from(timeout=20)
            return message
        finally:
            await communicator.disconnect()

    message = async_to_sync(run)()
    assert message["type"] == "events"
    assert [item["job_id"] for item in message["events"]] == ["job1"]


@pytest.mark.django_db(transaction=True)
def test_the_events_websocket_refuses_anyone_but_staff_from_our_pages(user):
    # (Staff from our own pages are let in: test_staff_receive_events_over_the_websocket.)
    assert close_code(EVENTS_PATH, [(b"origin", b"http://testserver")]) == CloseCode.UNAUTHENTICATED
    assert close_code(EVENTS_PATH, session_headers(user)) == CloseCode.FORBIDDEN
    staff = staff_user()
    assert close_code(EVENTS_PATH, session_headers(staff, "http://evil.example")) == CloseCode.FORBIDDEN
