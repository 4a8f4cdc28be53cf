"""Freshness figures (wait, run, answer age per client and overall) in the stats, /metrics and
`proctoring_stats`, and the admin's waiting list and failed-jobs search.

Here the tests that need no process;
the others are in tests/processes/queue/test_freshness.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rq.suspension import suspend

from proctoring.core.frames import parse_image
from proctoring.ops import stats
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import freshness
from tests.roles import operator
from tests.support import jpeg_bytes

WAITING = "/admin/proctoring/queue/waiting/"


def enqueue(client: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(operator("ops", operate=False))
    return client


def test_percentiles_are_read_from_the_buckets():
    buckets = (10, 100, 1000)
    assert freshness.percentiles({}, buckets) == {"p50": None, "p95": None, "p99": None}
    counts = {"10": 50, "100": 45, "1000": 4, "+Inf": 1}  # 100 values
    assert freshness.percentiles(counts, buckets) == {"p50": 0.01, "p95": 0.1, "p99": 1.0}
    # Within a bucket, interpolated between its bounds: 19 of 20 values is 90 % into (10, 100].
    assert freshness.percentiles({"10": 10, "100": 10}, buckets) == {"p50": 0.01, "p95": 0.091, "p99": 0.0982}
    assert freshness.percentiles({"10": 4}, buckets)["p50"] == 0.005
    # Past the last bound: given as the last bound (the histogram cannot say more).
    assert freshness.percentiles({"+Inf": 3}, buckets)["p99"] == 1.0
    assert freshness.bucket(10, buckets) == "10" and freshness.bucket(10.5, buckets) == "100"
    assert freshness.bucket(5000, buckets) == "+Inf"


@pytest.mark.django_db
def test_the_waiting_list_shows_the_queue_in_order_and_finds_a_client_or_a_job(
    staff: Client, redis_conn: Any
):
    suspend(redis_conn)
    first = enqueue("cam-a", 1)
    other = enqueue("cam-b", 1)
    second = enqueue("cam-a", 2)
    page = staff.get(WAITING)
    assert page.status_code == 200
    assert [(row.position, row.job_id, row.client) for row in page.context["rows"]] == [
        (1, first, "cam-a"),
        (2, other, "cam-b"),
        (3, second, "cam-a"),
    ]
    ages = {row["client"]: row["oldest_waiting_s"] for row in stats.clients()}
    assert ages["cam-a"] is not None and ages["cam-a"] >= ages["cam-b"] >= 0  # cam-a's first came first
    mine = staff.get(WAITING, {"client": "cam-a"}).context["rows"]
    assert [(row.position, row.job_id) for row in mine] == [(1, first), (3, second)]
    found = staff.get(WAITING, {"q": second}).context["rows"]
    assert [(row.position, row.job_id, row.seq) for row in found] == [(3, second, 2)]
    assert staff.get(WAITING, {"q": "0" * 32}).context["rows"] == []
