"""The overview's frames-per-minute chart draws every series so that none hides another
(received as an area, with totals in the legend) and includes the stale frames; its job events
list opens with the last events; the per-client, waiting and failed pages refresh themselves
(issue 19, item 10)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from rq.job import Job

from exams.models import Attempt
from proctoring.core.frames import pack_frame, parse_image, unpack_frame
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import policy
from proctoring.store import keys
from proctoring.worker.workers import ProctoringWorker
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

OVERVIEW = "/admin/proctoring/queue/"
FRAME = parse_image(jpeg_bytes(), 1 << 20)


def received_earlier(connection: Any, job_id: str, seconds: float) -> None:
    """As if the gateway had received the frame `seconds` earlier."""
    meta, image = unpack_frame(connection.get(keys.frame(job_id)))
    older = dataclasses.replace(meta, received_at=meta.received_at - timedelta(seconds=seconds))
    connection.set(keys.frame(job_id), pack_frame(older, image))


@pytest.mark.django_db
def test_the_chart_shows_received_under_completed_and_the_late_and_expired_frames(
    staff_client: Client, attempt: Attempt, api: RecordingApi, redis_conn: Any, settings: Any
) -> None:
    settings.PROCTORING_STORE_RESULTS = False
    client_id = str(attempt.pk)
    jobs = [enqueuing.enqueue_frame(client_id, client_id, seq, FRAME) for seq in (1, 2, 3, 4)]
    received_earlier(redis_conn, jobs[2], 120)  # past its live window: delivered late
    received_earlier(redis_conn, jobs[3], 3600)  # past the backfill horizon: expired
    for job_id in jobs:
        Job.fetch(job_id, connection=redis_conn).perform()
    data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json").content)
    assert data["chart"]["totals"] == {"received": 4, "completed": 3, "late": 1, "failed": 0, "stale": 1}
    assert sum(minute["stale"] for minute in data["throughput"]) == 1
    page = staff_client.get(OVERVIEW).content.decode()
    assert '<polygon class="received area" data-series="received"' in page, "an area, under the lines"
    assert '<polyline class="completed" data-series="completed"' in page
    assert '<polyline class="late" data-series="late"' in page
    assert '<polyline class="stale" data-series="stale"' in page
    assert 'expired <tspan data-series-total="stale">1</tspan>' in page
    assert 'late <tspan data-series-total="late">1</tspan>' in page
    assert 'received <tspan data-series-total="received">4</tspan>' in page


@pytest.mark.django_db(transaction=True)
def test_the_job_events_list_opens_with_the_last_events(
    staff_client: Client, attempt: Attempt, api: RecordingApi, settings: Any
) -> None:
    from proctoring.queue import recent_events  # new with this test: its old code had none

    settings.PROCTORING_STORE_RESULTS = False
    client_id = str(attempt.pk)
    api.script(Reply(200, {"flags": ["no_face"]}), Reply(422, {"error": "bad"}))
    delivered, refused = (enqueuing.enqueue_frame(client_id, client_id, seq, FRAME) for seq in (1, 2))
    assert "Completed, failed and stale frames appear here" in staff_client.get(OVERVIEW).content.decode()
    connection = redis.Redis.from_url(django_settings.REDIS_URL)
    worker = ProctoringWorker([policy.get_queue()], connection=connection, concurrency=1)
    try:
        worker.work(burst=True)
    finally:
        worker._pool.shutdown()
        connection.close()
    wait_until(lambda: len(recent_events.read()) == 2, 10, "the worker's events kept")
    page = staff_client.get(OVERVIEW).content.decode()
    assert "Completed, failed and stale frames appear here" not in page
    events = page[page.index('<table id="job-events"') :]
    assert events.index(refused[:10]) < events.index(delivered[:10]), "newest first"
    assert "<td>completed</td><td>" + client_id in events and "flags: no_face" in events
    assert "<td>failed</td>" in events and "422" in events


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["clients/", "waiting/", "failed/"])
def test_the_per_client_waiting_and_failed_pages_refresh_themselves(staff_client: Client, url: str) -> None:
    page = staff_client.get(OVERVIEW + url).content.decode()
    assert '<div id="queue-page" data-refresh-ms="5000">' in page
    assert "proctoring/page_refresh.js" in page
    overview = staff_client.get(OVERVIEW).content.decode()
    assert "page_refresh.js" not in overview, "the overview polls its JSON instead"
