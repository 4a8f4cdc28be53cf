"""The admin's expired list (proctoring/ops/admin/expired.py): the frames dropped past the backfill
horizon, each with its client, seq, age and why, and the counts that match it everywhere: the
overview, stats.json, /metrics and `proctoring_stats`. Issue 19, item 3."""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rq.job import Job

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import lateness
from tests.roles import bare_staff, operator
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

EXPIRED = "/admin/proctoring/queue/expired/"


def expire(client_id: str, seq: int, redis_conn: Any) -> str:
    job_id = enqueuing.enqueue_frame(client_id, client_id, seq, parse_image(jpeg_bytes(), 1 << 20))
    time.sleep(0.01)  # age, not synchronisation: older than the 2 ms horizon
    Job.fetch(job_id, connection=redis_conn).perform()
    return job_id


def test_the_expired_list_shows_each_dropped_frame_and_the_counts_match(
    client: Client, api: Any, redis_conn: Any, settings: Any
) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 0.001
    settings.PROCTORING_BACKFILL_HORIZON = 0.002
    settings.PROCTORING_STORE_RESULTS = False
    first = expire("camera-1", 4, redis_conn)
    expire("camera-2", 9, redis_conn)
    assert api.calls == []
    client.force_login(operator("viewer", operate=False))
    page = client.get(EXPIRED).content.decode()
    assert first in page and "camera-1" in page and "camera-2" in page and "past the backfill horizon" in page
    assert "2 frames expired since the counts began; 2 kept here" in page
    mine = client.get(EXPIRED, {"client": "camera-1"}).content.decode()
    assert first in mine and "camera-2</code></a>" not in mine and "1 kept here" in mine
    overview = client.get("/admin/proctoring/queue/").content.decode()
    assert (
        'data-figure="stale_dropped">2</span><a href="/admin/proctoring/queue/expired/">expired' in overview
    )
    figures = client.get("/admin/proctoring/queue/stats.json").json()
    assert (figures["queue"]["stale_dropped"], figures["queue"]["late"]) == (2, 0)
    assert 'proctoring_frames_total{outcome="stale"} 2.0' in client.get("/metrics").content.decode()
    out = StringIO()
    call_command("proctoring_stats", "--json", stdout=out)
    assert json.loads(out.getvalue())["queue"]["stale_dropped"] == 2
    table = StringIO()
    call_command("proctoring_stats", stdout=table)
    assert "expired (past the backfill horizon) 2" in table.getvalue()
    assert lateness.expired_list(redis_conn)[0] == 2


def test_late_frames_are_counted_in_every_view(
    client: Client, api: Any, redis_conn: Any, settings: Any
) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 0.001
    settings.PROCTORING_STORE_RESULTS = False
    job_id = enqueuing.enqueue_frame("camera-3", "camera-3", 1, parse_image(jpeg_bytes(), 1 << 20))
    # Age, not synchronisation: a warm process takes and sends it within the 1 ms live window.
    time.sleep(0.01)
    Job.fetch(job_id, connection=redis_conn).perform()
    client.force_login(operator("viewer", operate=False))
    assert client.get("/admin/proctoring/queue/stats.json").json()["queue"]["late"] == 1
    assert 'proctoring_frames_total{outcome="late"} 1.0' in client.get("/metrics").content.decode()
    assert 'data-figure="late">1</span>' in client.get("/admin/proctoring/queue/").content.decode()


def test_the_expired_list_is_for_queue_viewers(client: Client) -> None:
    client.force_login(bare_staff("nobody"))
    assert client.get(EXPIRED).status_code == 403


def test_the_expired_list_is_bounded(redis_conn: Any) -> None:
    with redis_conn.pipeline() as pipe:
        for seq in range(lateness.EXPIRED_KEEP_MAX + 5):
            lateness.record_expired(pipe, f"job-{seq}", "camera-9", seq, 901.0, "past the backfill horizon")
        pipe.execute()
    count, shown = lateness.expired_list(redis_conn, limit=lateness.EXPIRED_KEEP_MAX)
    assert count == lateness.EXPIRED_KEEP_MAX == len(shown)
    assert shown[0].seq == lateness.EXPIRED_KEEP_MAX + 4, "the newest first; the oldest went"
    assert 0 < redis_conn.ttl("proctoring:expired") <= lateness.EXPIRED_KEEP_SECONDS


def test_an_erased_clients_frames_leave_the_expired_list(redis_conn: Any) -> None:
    from proctoring.queue import erasure

    with redis_conn.pipeline() as pipe:
        lateness.record_expired(pipe, "job-a", "camera-a", 1, 901.0, "past the backfill horizon")
        lateness.record_expired(pipe, "job-b", "camera-b", 1, 901.0, "past the backfill horizon")
        pipe.execute()
    erasure.erase("camera-a", wait=0)
    assert [row.client_id for row in lateness.expired_list(redis_conn)[1]] == ["camera-b"]
