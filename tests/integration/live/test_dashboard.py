"""The proctor dashboard: staff only, its pages, reviews, and its live socket updated by a real
worker's job events over the real channel layer.

Here the tests that need no process;
the others are in tests/processes/live/test_dashboard.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from exams.models import Attempt
from proctoring.core.frames import FrameMeta, parse_image
from proctoring.core.protocol import CloseCode
from proctoring.live import dashboard
from proctoring.models import FrameResult, Incident
from proctoring.queue import enqueue
from proctoring.results import incidents
from proctoring.results import writer as results
from proctoring_site.asgi import application
from tests.communicators import close_code, session_headers
from tests.roles import proctor_of
from tests.support import fixture, jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(exam: Any) -> Any:
    """A proctor of the attempts' exam (no other permission)."""
    return proctor_of(exam)


@pytest.fixture
def staff_client(client: Client, staff: Any) -> Client:
    client.force_login(staff)
    return client


def flagged_frame(attempt: Attempt, seq: int, flags: list[str], image: bytes) -> FrameResult:
    meta = FrameMeta(
        client_id=str(attempt.pk), attempt_id=str(attempt.pk), seq=seq,
        captured_at=attempt.started_at, received_at=attempt.started_at, content_type="image/jpeg",
    )  # fmt: skip
    job_id = f"{seq:032d}"
    results.store_result(meta, job_id, {"flags": flags}, image).result(timeout=30)
    return FrameResult.objects.get(job_id=job_id)


def pages(attempt: Attempt, frame: FrameResult, incident: Incident) -> list[tuple[str, str]]:
    return [
        ("get", "/proctor/"),
        ("get", f"/proctor/exams/{attempt.exam.slug}/"),
        ("get", f"/proctor/attempts/{attempt.pk}/"),
        ("get", f"/proctor/attempts/{attempt.pk}/latest"),
        ("get", f"/proctor/frames/{frame.job_id}/snapshot"),
        ("post", f"/proctor/incidents/{incident.pk}/review/"),
    ]


def test_only_staff_see_the_dashboard_and_exam_takers_see_nothing_of_it(client, user, attempt, staff):
    frame = flagged_frame(attempt, 1, ["no_face"], fixture("covered.jpg"))
    incident = Incident.objects.get()
    for who in (None, user):
        if who is not None:
            client.force_login(who)
        for method, url in pages(attempt, frame, incident):
            response = getattr(client, method)(url, {"status": "dismissed"} if method == "post" else None)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (who, url)
    incident.refresh_from_db()
    assert incident.review_status == "pending", "an exam taker's POST changed nothing"


def test_the_socket_refuses_anyone_but_staff(user, attempt, staff):
    path = f"/ws/proctor/exams/{attempt.exam.slug}/"
    assert close_code(path, [(b"origin", b"http://testserver")]) == CloseCode.UNAUTHENTICATED
    assert close_code(path, session_headers(user)) == CloseCode.FORBIDDEN
    assert close_code(path, session_headers(staff, "http://evil.example")) == CloseCode.FORBIDDEN
    # A page on another port of the site's host is another origin, though it gets the cookie.
    other_port = session_headers(staff, "http://testserver:8001", host="testserver:8000")
    assert close_code(path, other_port) == CloseCode.FORBIDDEN
    assert close_code("/ws/proctor/exams/no-such-exam/", session_headers(staff)) == CloseCode.FORBIDDEN


def test_the_grid_shows_attempts_in_progress_with_their_backlog(staff_client, attempt):
    client_id = str(attempt.pk)
    for seq in (1, 2, 3):
        enqueue.enqueue_frame(client_id, client_id, seq, parse_image(jpeg_bytes(), 1 << 20))
    ended = Attempt.objects.create(user=attempt.user, exam=attempt.exam, ended_at=attempt.started_at)
    page = staff_client.get(f"/proctor/exams/{attempt.exam.slug}/").content.decode()
    assert f'data-attempt="{attempt.pk}"' in page and f'data-attempt="{ended.pk}"' not in page
    assert '<dd data-field="backlog">3</dd>' in page
    # Enqueued here, through no camera socket: the gateways count none open.
    assert '<dd data-field="state">disconnected</dd>' in page
    assert "proctor/exams/" in page and f'data-socket-path="/ws/proctor/exams/{attempt.exam.slug}/"' in page


def test_the_timeline_shows_incidents_with_snapshots_and_records_reviews(staff_client, staff, attempt):
    frame = flagged_frame(attempt, 1, ["camera_blocked"], fixture("covered.jpg"))
    flagged_frame(attempt, 2, [], b"clean")
    incident = Incident.objects.get()
    page = staff_client.get(f"/proctor/attempts/{attempt.pk}/").content.decode()
    assert f'id="incident-{incident.pk}"' in page and "camera_blocked" in page
    assert f'src="/proctor/frames/{frame.job_id}/snapshot"' in page
    assert "Risk summary" in page
    assert "% of the streaming time" in page and "a longer gap counts as the camera off" in page
    snapshot = staff_client.get(f"/proctor/frames/{frame.job_id}/snapshot")
    assert snapshot.status_code == 200 and snapshot.content == fixture("covered.jpg")
    assert snapshot["Cache-Control"] == "private, no-store"
    response = staff_client.post(
        f"/proctor/incidents/{incident.pk}/review/", {"status": "reviewed", "comment": "hand over the lens"}
    )
    assert response["Location"] == f"/proctor/attempts/{attempt.pk}/#incident-{incident.pk}"
    incident.refresh_from_db()
    assert (incident.review_status, incident.reviewed_by, incident.review_comment) == (
        "reviewed", staff, "hand over the lens",
    )  # fmt: skip
    filtered = staff_client.get(f"/proctor/attempts/{attempt.pk}/?kind=no_face").content.decode()
    assert f'id="incident-{incident.pk}"' not in filtered


def test_the_grid_hears_a_camera_connect_and_disconnect(staff, attempt):
    from proctoring.gateway.tokens import make_token

    headers = session_headers(staff)
    camera_path = f"/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"

    async def run() -> list[dict[str, Any]]:
        dashboard = WebsocketCommunicator(application, f"/ws/proctor/exams/{attempt.exam.slug}/", headers)
        assert (await dashboard.connect(timeout=5))[0]
        camera = WebsocketCommunicator(application, camera_path)
        assert (await camera.connect(timeout=5))[0]
        heard: list[dict[str, Any]] = []
        try:
            while len([m for m in heard if m["type"] == "events"]) < 1:
                heard.append(await dashboard.receive_json_from(timeout=10))
            await camera.disconnect()
            while len([m for m in heard if m["type"] == "events"]) < 2:
                heard.append(await dashboard.receive_json_from(timeout=10))
        finally:
            await dashboard.disconnect()
        return heard

    heard = async_to_sync(run)()
    events = [item for message in heard if message["type"] == "events" for item in message["events"]]
    assert [(item["event"], item["client_id"]) for item in events] == [
        ("connected", str(attempt.pk)),
        ("disconnected", str(attempt.pk)),
    ]


async def _rows_until(grid: WebsocketCommunicator, attempt_id: str, wanted: Any) -> dict[str, Any]:
    """The first row of `attempt_id` the grid's socket sends for which `wanted(row)` holds."""
    while True:
        message = await grid.receive_json_from(timeout=10)
        for row in message.get("rows", []) if message["type"] == "rows" else []:
            if row["attempt_id"] == attempt_id and wanted(row):
                return dict(row)


def test_the_grid_shows_a_closed_camera_socket_as_disconnected_at_once(staff, attempt):
    from proctoring.gateway.tokens import make_token

    client_id = str(attempt.pk)
    headers = session_headers(staff)
    camera_path = f"/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        grid = WebsocketCommunicator(application, f"/ws/proctor/exams/{attempt.exam.slug}/", headers)
        assert (await grid.connect(timeout=5))[0]
        camera = WebsocketCommunicator(application, camera_path)
        assert (await camera.connect(timeout=5))[0]
        try:
            await camera.send_to(bytes_data=jpeg_bytes())
            assert (await camera.receive_json_from(timeout=10))["type"] == "ack"
            streaming = await _rows_until(grid, client_id, lambda row: row["last_frame_at"])
            await camera.disconnect()
            closed = await _rows_until(grid, client_id, lambda row: row["state"] != "streaming")
        finally:
            await grid.disconnect()
        return streaming, closed

    streaming, closed = async_to_sync(run)()
    assert streaming["state"] == "streaming"
    # Within the grid's next flush (a quarter second), not seconds later as "stalled".
    assert closed["state"] == "disconnected"
    assert time.time() - closed["last_frame_at"] < dashboard.STREAMING_WITHIN


def test_the_grid_follows_a_review_without_a_reload(staff, attempt):
    client_id = str(attempt.pk)
    flagged_frame(attempt, 1, ["no_face"], fixture("covered.jpg"))
    incident = Incident.objects.get()
    headers = session_headers(staff)

    async def run() -> dict[str, Any]:
        grid = WebsocketCommunicator(application, f"/ws/proctor/exams/{attempt.exam.slug}/", headers)
        assert (await grid.connect(timeout=5))[0]
        try:
            await database_sync_to_async(incidents.review)(incident, staff, "dismissed", "a poster")
            return await _rows_until(grid, client_id, lambda row: True)
        finally:
            await grid.disconnect()

    row = async_to_sync(run)()
    assert (row["incidents_total"], row["incidents_pending"]) == (1, 0)


def test_a_camera_is_disconnected_when_its_sockets_are_closed_and_the_gateways_count_them():
    now = 1000.0
    assert dashboard.connection_state(now - 1, now, sockets=0) == "disconnected"
    assert dashboard.connection_state(now - 1, now, sockets=1) == "streaming"
    assert dashboard.connection_state(None, now, sockets=1) == "connected"
    assert dashboard.connection_state(None, now, sockets=0) == "waiting"
    assert dashboard.connection_state(now - 1, now) == "streaming"  # no limit set: nothing counted
    assert dashboard.connection_state(now - 30, now, sockets=1) == "stalled"


def test_the_timeline_has_a_time_axis_and_its_labels_beside_the_plot(staff_client, attempt):
    flagged_frame(attempt, 1, ["no_face"], fixture("covered.jpg"))
    Attempt.objects.filter(pk=attempt.pk).update(ended_at=attempt.started_at + timedelta(seconds=30))
    page = staff_client.get(f"/proctor/attempts/{attempt.pk}/").content.decode()
    start = page.index('<svg class="timeline"')
    svg = page[start : page.index("</svg>", start)]
    labels, plot = svg.split('<g class="plot" transform="translate(80 0)">')
    assert all(f">{label}</text>" in labels for label in ("frames", "incidents", "flags"))
    assert 'class="tick"' in plot and "<rect" in plot and "<rect" not in labels


def test_the_time_axis_ticks_at_round_clock_times():
    start = datetime(2026, 12, 2, 13, 0, 7, tzinfo=UTC)
    ticks = dashboard.time_axis(start, start + timedelta(minutes=20))
    assert [tick["label"] for tick in ticks] == ["13:05", "13:10", "13:15", "13:20"]
    assert ticks[0]["x"] == round((5 * 60 - 7) / 1200, 5)
    short = dashboard.time_axis(start, start + timedelta(seconds=40))
    assert [tick["label"] for tick in short] == [f"13:00:{second}" for second in range(10, 46, 5)]
