"""The wait, run and age percentiles the overview and the per-client page show match the raw
times: interpolated between the least and greatest value seen in a bucket, never up to a wide
bucket's bound past the slowest frame (issue 19: p95/p99 26.2/29.2 s when the slowest was 19.2 s)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from django.test import Client

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import freshness, metrics
from proctoring.store import keys
from proctoring.templatetags.timing import duration
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db

# Received → taken, in seconds: 80 quick frames, then 20 that waited out an outage (10.5 to 19.2 s).
RAW = [0.2 + index * 0.01 for index in range(80)] + [10.5 + index * 8.7 / 19 for index in range(20)]


def nearest_rank(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(quantile * len(ordered)) - 1]


def test_wait_percentiles_match_the_raw_times_overall_and_per_client(
    staff_client: Client, attempt: Attempt, redis_conn: Any
) -> None:
    client_id = str(attempt.pk)
    enqueuing.enqueue_frame(client_id, client_id, 1, parse_image(jpeg_bytes(), 1 << 20))
    recorder = metrics.Recorder()
    with redis_conn.pipeline() as pipe:
        for seconds in RAW:  # as a worker records a delivered frame: overall and for its client
            recorder.observe("wait", seconds * 1000, freshness.WAIT_BUCKETS_MS)
            freshness.record(pipe, client_id, seconds * 1000, 100.0, seconds * 1000 + 100)
        pipe.execute()
    recorder.flush(redis_conn)

    data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json?clients=5").content)
    [row] = [row for row in data["clients"] if row["client"] == client_id]
    for name, quantile in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        exact = nearest_rank(RAW, quantile)
        for shown in (data["queue"][f"wait_{name}_s"], data["freshness"]["wait"][name], row[f"wait_{name}"]):
            assert min(RAW) <= shown <= max(RAW), (name, shown)
            assert abs(shown - exact) < 0.25, (name, shown, exact)
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert f'data-figure="wait_p99_s">{duration(data["queue"]["wait_p99_s"])}<' in page


def test_without_the_ranges_the_bucket_bounds_are_used() -> None:
    counts = {"10": 10, "100": 10}
    assert freshness.percentiles(counts, (10, 100, 1000))["p95"] == 0.091
    ranges = {"10": (2.0, 9.0), "100": (20.0, 40.0)}
    assert freshness.percentiles(counts, (10, 100, 1000), ranges)["p95"] == 0.038
    assert freshness.percentiles({"+Inf": 2}, (10, 100), {"+Inf": (150.0, 250.0)})["p99"] == 0.249


def test_a_tallied_batch_writes_what_frame_by_frame_records_do_in_a_few_commands(redis_conn: Any) -> None:
    """A batch of successes adds its frames' times up per client and bucket (`freshness.tallied`):
    the same hash and ranges as recording each frame alone, in commands per bucket touched."""
    times = [(wait, 180.0 + wait % 7, wait + 200.0) for wait in RAW]
    with redis_conn.pipeline() as pipe:
        for wait, run, age in times:
            freshness.record(pipe, "alone", wait * 1000, run, age * 1000)
        alone = len(pipe.command_stack)
        pipe.execute()
    with redis_conn.pipeline() as pipe:
        with freshness.tallied(pipe):
            for wait, run, age in times:
                freshness.record(pipe, "batched", wait * 1000, run, age * 1000)
                freshness.record(pipe, "other", 1.0, 2.0, 3.0)
        batched = len(pipe.command_stack)
        pipe.execute()

    times_key, range_key = keys.client_times, keys.client_times_range
    assert redis_conn.hgetall(times_key("batched")) == redis_conn.hgetall(times_key("alone"))
    assert redis_conn.zrange(range_key("batched"), 0, -1, withscores=True) == redis_conn.zrange(
        range_key("alone"), 0, -1, withscores=True
    )
    for key in (times_key("batched"), range_key("batched")):
        assert 0 < redis_conn.ttl(key) <= freshness.CLIENT_TIMES_TTL
    assert redis_conn.hgetall(times_key("other")) == {b"wait:5": b"100", b"run:25": b"100", b"age:5": b"100"}
    assert freshness.read_ranges(
        dict(redis_conn.zrange(range_key("other"), 0, -1, withscores=True)), "run:"
    ) == {"25": (2.0, 2.0)}
    touched = len(redis_conn.hgetall(times_key("batched")))
    assert alone == 7 * len(times), "a frame alone: three HINCRBYs, two ZADDs, two EXPIREs"
    assert batched == (touched + 4) + (3 + 4), "per client: one HINCRBY per bucket, two ZADDs, two EXPIREs"
