"""The gateways' loop lag as operators read it: the last minutes' p99 and worst on the overview
(and stats.json), every observation on /metrics; older minutes drop out of the overview's window."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client

from proctoring.ops import stats
from proctoring.queue import metrics
from proctoring.store import keys
from proctoring.store.connections import get_redis

pytestmark = pytest.mark.django_db


def observe(lags_ms: list[float], minute: int) -> None:
    for lag in lags_ms:
        metrics.recorder.observe(metrics.LOOP_LAG, lag, metrics.LOOP_LAG_BUCKETS_MS)
        metrics.recorder.observe(metrics.loop_lag_minute(minute), lag, metrics.LOOP_LAG_BUCKETS_MS, ttl=360)
    metrics.recorder.flush(get_redis())


def test_the_window_holds_the_last_minutes_only_and_its_p99_is_never_above_the_worst(redis_conn: Any) -> None:
    now = time.time()
    minute = int(now // 60)
    observe([1.0] * 98 + [40.0, 180.0], minute)
    observe([900.0], minute - metrics.LOOP_LAG_WINDOW_MINUTES)  # six minutes ago: outside
    window = metrics.loop_lag_window(now)
    assert window["samples"] == 100
    assert window["max_s"] == pytest.approx(0.18)
    assert window["p99"] is not None and 0.04 <= window["p99"] <= 0.18
    assert window["p50"] == pytest.approx(0.001)
    # A minute's histogram goes by itself once it has left the window.
    name = metrics.loop_lag_minute(minute)
    assert 0 < redis_conn.ttl(keys.histogram(name)) <= 360
    assert 0 < redis_conn.ttl(keys.histogram_range(name)) <= 360
    assert redis_conn.ttl(keys.histogram(metrics.LOOP_LAG)) == -1  # the all-time one stays
    figures = stats.queue_figures()
    assert figures["loop_lag_max_s"] == pytest.approx(0.18)


def test_metrics_export_every_observation_and_the_overview_shows_the_window(
    staff_client: Client, redis_conn: Any
) -> None:
    observe([3.0, 7.0, 250.0], int(time.time() // 60))
    text = staff_client.get("/metrics").content.decode()
    assert re.search(r"^proctoring_gateway_loop_lag_seconds_count 3(\.0)?$", text, re.M), text[-2000:]
    assert re.search(r'^proctoring_gateway_loop_lag_seconds_bucket\{le="0\.5"\} 3(\.0)?$', text, re.M)
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert 'data-figure="loop_lag_max_s">250 ms<' in page
