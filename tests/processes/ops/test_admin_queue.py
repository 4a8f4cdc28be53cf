"""The admin's queue overview, per-client page, their JSON and pause/resume (staff only).

Here the tests that start real processes;
the others are in tests/integration/ops/test_admin_queue.py."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from django.test import Client

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from tests.support import RecordingApi, jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db


def enqueue(client_id: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client_id, client_id, seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_overview_lists_every_worker_by_host_and_pid_with_the_jobs_it_runs(
    staff_client: Client, attempt: Attempt, api: RecordingApi, start_worker: Any
) -> None:
    processes = [start_worker(), start_worker()]
    host = socket.gethostname()
    names = {f"{host.split('.')[0]}.{process.popen.pid}": process.popen.pid for process in processes}
    api.block()
    job_ids = {enqueue(str(attempt.pk), seq) for seq in range(1, 5)}
    wait_until(lambda: len(api.calls) == 4, 20, "four frames held at the API")

    def workers() -> list[dict[str, Any]]:
        data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json").content)
        return list(data["workers"])

    running = wait_until(lambda: [w for w in workers() if w["running"]], 10, "running jobs listed")
    assert sum(w["running"] for w in running) == 4 and all(w["state"] == "busy" for w in running)
    assert {job for w in running for job in w["current_jobs"]} == job_ids
    api.release()

    def all_booked() -> list[dict[str, Any]] | None:
        found = workers()
        return found if sum(w["successful"] for w in found) == 4 else None

    rows = wait_until(all_booked, 20, "the four successes booked")
    assert {w["name"]: w["pid"] for w in rows} == names
    assert all(w["hostname"] == host and w["birth"] and w["last_heartbeat"] for w in rows)
    assert all(w["running"] == 0 and w["failed"] == 0 for w in rows)
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert '<span data-figure="workers_count">2</span>' in page
    for name, pid in names.items():
        assert f'<tr data-worker="{name}"><td>{name}</td><td>{host}</td><td>{pid}</td>' in page
