"""Job events: published on the real channel layer by a real worker, logged, and passed on to
staff over the events WebSocket (and to no one else)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from proctoring.core import events
from proctoring.core.frames import parse_image
from proctoring.core.protocol import CloseCode
from proctoring.queue import enqueue as enqueuing
from proctoring_site.asgi import application
from tests.communicators import close_code, session_headers
from tests.support import Reply, jpeg_bytes, wait_until

EVENTS_PATH = "/ws/admin/proctoring/events/"


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


def enqueue(attempt, seq: int) -> str:
    client = str(attempt.pk)
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20))


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


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_publishes_completed_and_failed_events_and_logs_them(attempt, api, start_worker):
    listener = Listener()
    api.script(Reply(200, {"flags": ["too_dark"]}), Reply(400, {"error": "bad_seq"}))
    delivered = enqueue(attempt, 1)
    worker = start_worker(PROCTORING_WORKER_CONCURRENCY="1")
    [completed] = listener.next_events(1)
    assert completed["event"] == "completed" and completed["job_id"] == delivered
    assert (completed["client_id"], completed["seq"], completed["flags"]) == (
        str(attempt.pk),
        1,
        ["too_dark"],
    )
    rejected = enqueue(attempt, 2)
    [failed] = listener.next_events(1)
    assert (failed["event"], failed["job_id"], failed["kind"]) == ("failed", rejected, "ApiRejected")
    assert "400" in failed["error"]
    wait_until(lambda: f"job {rejected} failed (client {attempt.pk} #2)" in worker.log(), 10, "failed logged")
    assert f"job {delivered} completed (client {attempt.pk} #1)" in worker.log()


def staff_user(is_staff: bool = True) -> Any:
    return get_user_model().objects.create_user(
        "staff" if is_staff else "plain", password="staff-pass-123", is_staff=is_staff
    )


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
