"""From flags to incidents: the grouping rule as plain functions, the writer's findings,
incidents and snapshots in the database, the risk summary, and the whole path through a real
worker and the reference API's real face detector.

Here the tests that start real processes;
the others are in tests/integration/results/test_incidents.py."""

from __future__ import annotations

import pytest

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult, Incident, Severity
from proctoring.queue import enqueue
from proctoring.results import snapshots
from tests.support import fixture, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_covered_camera_becomes_a_camera_blocked_incident(attempt, settings, start_worker, start_daphne):
    _, port = start_daphne()
    api_url = f"http://127.0.0.1:{port}/reference-api/v1/analyze"
    client = str(attempt.pk)
    for seq, name in enumerate(["one_face.jpg", "covered.jpg", "covered.jpg", "covered.jpg"], start=1):
        enqueue.enqueue_frame(client, client, seq, parse_image(fixture(name), 1 << 20))
    start_worker(PROCTORING_API_URL=api_url, PROCTORING_WORKER_CONCURRENCY="1")
    wait_until(lambda: FrameResult.objects.filter(attempt=attempt).count() == 4, 30, "four results")
    [incident] = Incident.objects.filter(attempt=attempt)
    assert (incident.kind, incident.frame_count, incident.severity) == ("camera_blocked", 3, Severity.HIGH)
    assert incident.snapshot is not None
    assert snapshots.read(incident.snapshot.snapshot_key) == (fixture("covered.jpg"), "image/jpeg")
    face = FrameResult.objects.get(attempt=attempt, seq=1)
    assert face.result["faces"]["count"] == 1 and face.flags == []
    assert face.snapshot_key == "", "a clean frame's image is not kept"
