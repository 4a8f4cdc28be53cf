"""The admin's queue overview, per-client page, their JSON and pause/resume (staff only).

Here the tests that need no process;
the others are in tests/processes/ops/test_admin_queue.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from rq.suspension import is_suspended

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.ops import charts
from proctoring.queue import enqueue as enqueuing
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/proctoring/queue/",
    "/admin/proctoring/queue/stats.json",
    "/admin/proctoring/queue/clients/",
]


def enqueue(client_id: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client_id, client_id, seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_and_non_staff_are_sent_to_the_admin_login(client: Client, user: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(user)  # an exam taker
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_pause_and_resume_need_staff_and_post(client: Client, user: Any, redis_conn: Any) -> None:
    client.force_login(user)
    client.post("/admin/proctoring/queue/pause/")
    assert not is_suspended(redis_conn)


def test_the_admin_index_links_to_the_queue_pages(staff_client: Client) -> None:
    page = staff_client.get("/admin/").content.decode()
    for url in (
        "/admin/proctoring/queue/",
        "/admin/proctoring/queue/clients/",
        "/admin/proctoring/queue/failed/",
    ):
        assert f'href="{url}"' in page


def test_overview_shows_counts_and_its_json_matches(staff_client: Client, attempt: Attempt) -> None:
    for seq in range(3):
        enqueue(str(attempt.pk), seq)
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert '<span class="value" data-figure="queued">3</span>' in page
    assert "No worker is running" in page
    assert 'data-series="received"' in page
    data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json").content)
    assert data["queue"]["queued"] == 3
    assert sum(row["received"] for row in data["throughput"]) == 3
    assert data["clients"] == []  # only with ?clients=N
    with_clients = json.loads(staff_client.get("/admin/proctoring/queue/stats.json?clients=5").content)
    assert with_clients["clients"][0]["client"] == str(attempt.pk)
    assert staff_client.get("/admin/proctoring/queue/stats.json?clients=x").status_code == 400


def test_frames_whose_capture_time_was_replaced_are_shown_with_the_other_counts(
    staff_client: Client, attempt: Attempt
) -> None:
    from_2999 = parse_image(jpeg_bytes(), 1 << 20, datetime(2999, 1, 1, tzinfo=UTC))
    enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), 1, from_2999)
    overview = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert '<span class="value" data-figure="clock_corrected">1</span>capture time corrected' in overview
    clients = staff_client.get("/admin/proctoring/queue/clients/").content.decode()
    assert "?sort=clock_corrected" in clients and "Time corrected" in clients
    metrics = staff_client.get("/metrics").content.decode()
    assert "proctoring_frames_clock_corrected_total 1.0" in metrics


def test_pause_then_resume(staff_client: Client, redis_conn: Any) -> None:
    assert staff_client.get("/admin/proctoring/queue/pause/").status_code == 405
    response = staff_client.post("/admin/proctoring/queue/pause/", follow=True)
    assert is_suspended(redis_conn)
    page = response.content.decode()
    assert "Workers are paused" in page and "Resume workers" in page
    staff_client.post("/admin/proctoring/queue/resume/")
    assert not is_suspended(redis_conn)


def test_per_client_rows_sort_and_a_backlogged_client_stands_out(
    staff_client: Client, user: Any, attempt: Attempt, settings: Any
) -> None:
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 6  # stands out at 3 waiting
    quiet = Attempt.objects.create(user=user, exam=attempt.exam)
    for seq in range(4):
        enqueue(str(attempt.pk), seq)
    enqueue(str(quiet.pk), 0)
    page = staff_client.get("/admin/proctoring/queue/clients/").content.decode()
    busy_at, quiet_at = page.index(str(attempt.pk)), page.index(str(quiet.pk))
    assert busy_at < quiet_at, "sorted by backlog, largest first"
    busy_row = page[page.rindex("<tr", 0, busy_at) : busy_at]
    quiet_row = page[page.rindex("<tr", 0, quiet_at) : quiet_at]
    assert 'class="backlog"' in busy_row and 'class="backlog"' not in quiet_row
    ascending = staff_client.get("/admin/proctoring/queue/clients/?sort=backlog&dir=asc").content.decode()
    assert ascending.index(str(quiet.pk)) < ascending.index(str(attempt.pk))
    assert staff_client.get("/admin/proctoring/queue/clients/?sort=nonsense").status_code == 200


def test_chart_points_scale_to_the_largest_value() -> None:
    rows = [
        {"minute": "2026-11-29T07:00:00+00:00", "received": 0, "completed": 0, "failed": 0},
        {"minute": "2026-11-29T07:01:00+00:00", "received": 10, "completed": 5, "failed": 0},
    ]
    chart = charts.throughput_chart(rows, width=124, height=148)
    assert chart["max"] == 10
    # Received is an area, closed down to the baseline, so that no line drawn over it hides it.
    assert chart["points"]["received"] == "24.0,124.0 24.0,124.0 100.0,24.0 100.0,124.0"
    assert chart["points"]["completed"] == "24.0,124.0 100.0,74.0"
    assert (chart["first"], chart["last"]) == ("07:00", "07:01")


def test_overview_shows_times_below_a_second_in_ms_beside_those_in_seconds(
    staff_client: Client, attempt: Attempt, redis_conn: Any
) -> None:
    from proctoring.store import keys

    # What the workers' histograms hold after 20 frames: runs under 25 ms, waits of 10..30 s.
    redis_conn.hset(keys.histogram("run"), mapping={"25": 20})
    redis_conn.hset(keys.histogram("wait"), mapping={"30000": 20})
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    run = page.split('data-figure="run_p95_s">')[1].split("<")[0]
    wait = page.split('data-figure="wait_p95_s">')[1].split("<")[0]
    assert run.endswith(" ms") and float(run.removesuffix(" ms")) < 1000, run
    assert wait.endswith(" s") and float(wait.removesuffix(" s")) > 1, wait
    assert "(s)</div>" not in page.split('class="figures freshness"')[1].split("</div>\n  </div>")[0]
