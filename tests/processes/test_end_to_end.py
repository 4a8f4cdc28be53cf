"""The whole loop on real processes: a camera covered and uncovered streams through daphne, a
worker and the reference API's face detector; the proctor dashboard's live socket shows the
`camera_blocked` incident open, then closed; the camera's acks carry the calm hint."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from django.test import Client
from websockets.sync.client import connect

from proctoring.gateway.tokens import make_token
from proctoring.models import Incident
from tests.roles import proctor_of
from tests.support import fixture, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GAP = 2.0  # seconds: PROCTORING_INCIDENT_GAP_SECONDS for this test's processes


class Dashboard:
    """The proctor dashboard's live socket, read on a thread: every row it sends, timestamped."""

    def __init__(self, url: str, cookie: str, origin: str) -> None:
        self.rows: list[tuple[float, dict[str, Any]]] = []
        self.error: Exception | None = None
        self._opened = connect(url, open_timeout=10, additional_headers={"Cookie": cookie, "Origin": origin})
        self.socket = self._opened.__enter__()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.socket:
                data = json.loads(message)
                if data["type"] == "rows":
                    for row in data["rows"]:
                        self.rows.append((time.monotonic(), row))
        except Exception as exc:  # closed at the end of the test
            self.error = exc

    def first(self, after: float, test: Any) -> tuple[float, dict[str, Any]] | None:
        return next(((at, row) for at, row in list(self.rows) if at >= after and test(row)), None)

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def test_covering_the_camera_opens_a_camera_blocked_incident_live_and_uncovering_closes_it(
    attempt, start_daphne, start_worker
):
    settings_env = {"PROCTORING_INCIDENT_GAP_SECONDS": str(GAP)}
    _, port = start_daphne(**settings_env)
    start_worker(PROCTORING_API_URL=f"http://127.0.0.1:{port}/reference-api/v1/analyze", **settings_env)
    staff = proctor_of(attempt.exam)
    browser = Client()
    browser.force_login(staff)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    dashboard = Dashboard(
        f"ws://127.0.0.1:{port}/ws/proctor/exams/{attempt.exam.slug}/", cookie, f"http://127.0.0.1:{port}"
    )
    face, covered = fixture("one_face.jpg"), fixture("covered.jpg")
    camera_url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    acks: list[tuple[float, dict[str, Any]]] = []

    def stream(ws: Any, image: bytes, seconds: float, fps: float = 4.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ws.send(image)
            acks.append((time.monotonic(), json.loads(ws.recv(timeout=10))))
            time.sleep(1 / fps)

    try:
        with connect(camera_url, open_timeout=10, max_size=None) as ws:
            stream(ws, face, 1.5)
            covered_at = time.monotonic()
            stream(ws, covered, 3.0)
            opened = wait_until(
                lambda: dashboard.first(covered_at, lambda row: "camera_blocked" in row["incidents_open"]),
                15,
                "the dashboard shows the camera_blocked incident",
            )
            uncovered_at = time.monotonic()
            stream(ws, face, GAP + 2.5)
            closed = wait_until(
                lambda: dashboard.first(uncovered_at + GAP, lambda row: row["incidents_open"] == []),
                15,
                "the dashboard shows it closed",
            )
    finally:
        dashboard.close()

    raised_after = opened[0] - covered_at
    print(f"camera_blocked shown {raised_after:.2f}s after covering; closed {closed[0] - uncovered_at:.2f}s")
    assert raised_after < 5, "within a few seconds"
    assert opened[1]["attempt_id"] == str(attempt.pk) and opened[1]["incidents_pending"] == 1
    [incident] = Incident.objects.filter(attempt=attempt)
    assert incident.kind == "camera_blocked" and incident.frame_count >= 5
    assert incident.snapshot is not None and incident.snapshot.snapshot_key
    # The camera's page heard a calm hint while covered, and none once its face was back.
    hints = [(at, ack.get("hint")) for at, ack in acks if ack["type"] == "ack"]
    assert any(hint == "camera_blocked" for at, hint in hints if covered_at <= at < uncovered_at)
    assert hints[-1][1] is None
