"""The proctor dashboard: staff only, its pages, reviews, and its live socket updated by a real
worker's job events over the real channel layer.

Here the tests that start real processes;
the others are in tests/integration/live/test_dashboard.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue
from proctoring_site.asgi import application
from tests.communicators import session_headers
from tests.roles import proctor_of
from tests.support import Reply, fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(exam: Any) -> Any:
    """A proctor of the attempts' exam."""
    return proctor_of(exam)


@pytest.mark.slow
def test_the_grid_gets_a_live_update_within_2_s_of_a_job_completing(staff, attempt, api, start_worker):
    # (The thumbnail is read from Redis, where the success batch copied the frame.)
    api.script(Reply(200, {"flags": ["multiple_faces"]}))
    start_worker()
    headers = session_headers(staff)
    client_id = str(attempt.pk)

    async def run() -> tuple[dict[str, Any], float]:
        communicator = WebsocketCommunicator(application, f"/ws/proctor/exams/{attempt.exam.slug}/", headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        try:
            await asyncio.to_thread(
                enqueue.enqueue_frame, client_id, client_id, 1, parse_image(fixture("two_faces.jpg"), 1 << 20)
            )
            while True:
                message = await communicator.receive_json_from(timeout=15)
                if message["type"] == "rows":
                    return message, time.monotonic()
        finally:
            await communicator.disconnect()

    message, received = async_to_sync(run)()
    [row] = message["rows"]
    answered = api.calls[0].at
    assert received - answered < 2.0, f"update {received - answered:.2f}s after the API answered"
    # Queued here, through no camera socket: the row says no camera is connected.
    assert row["attempt_id"] == client_id and row["state"] == "disconnected"
    assert row["incidents_open"] == ["multiple_faces"] and row["incidents_pending"] == 1
    assert row["thumb_url"].startswith(f"/proctor/attempts/{client_id}/latest?v=1-")
    viewer = Client()
    viewer.force_login(staff)
    thumbnail = viewer.get(row["thumb_url"])
    assert thumbnail.status_code == 200 and thumbnail.content == fixture("two_faces.jpg")
