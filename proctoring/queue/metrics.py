"""Counters and latency histograms shared by every gateway and worker process, kept in Redis
(their Prometheus exposition is `proctoring.ops.collector`'s).

Prometheus's own client keeps metrics per process; ours are spread over a daphne process and
several workers (and hosts), so the figures live in Redis: totals in one hash, histograms as one
hash each (a count per bucket, a sum, a count). Processes add their observations in memory and
write them at most once a second, in one pipeline, so a frame costs no extra round trip.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import redis

from proctoring.queue import freshness
from proctoring.store import keys

# Upper bounds, in milliseconds.
ENQUEUE_BUCKETS_MS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000)
API_BUCKETS_MS = (10, 25, 50, 100, 200, 300, 500, 1000, 2500, 5000, 10000)
# How late the gateway's event loop wakes a short sleep (`proctoring.gateway.loop_lag`).
LOOP_LAG_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
LOOP_LAG = "loop_lag"  # every observation, for Prometheus
LOOP_LAG_WINDOW_MINUTES = 5  # the admin overview's "now": the last minutes' own histograms
FLUSH_EVERY = 1.0  # seconds


def loop_lag_minute(epoch_minute: int) -> str:
    """The histogram of one minute's loop lag (kept `LOOP_LAG_WINDOW_MINUTES` + 1 minutes)."""
    return f"{LOOP_LAG}:{epoch_minute}"


class Recorder:
    """Observations of one process, written to Redis at most every FLUSH_EVERY seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histograms: dict[str, Counter[str]] = {}
        # Per histogram and bucket, the least and greatest value seen (`freshness.percentiles`).
        self._ranges: dict[str, dict[str, tuple[float, float]]] = {}
        self._totals: Counter[str] = Counter()
        self._ttls: dict[str, int] = {}  # histograms that expire, and after how many seconds
        self._flushed = time.monotonic()

    def observe(
        self, histogram: str, value_ms: float, buckets: tuple[float, ...], ttl: int | None = None
    ) -> None:
        """Counts `value_ms` in `histogram`'s bucket; `ttl`: the histogram's keys expire that many
        seconds after its last write (a histogram of one window of time)."""
        bucket = freshness.bucket(value_ms, buckets)
        with self._lock:
            if ttl is not None:
                self._ttls[histogram] = ttl
            counts = self._histograms.setdefault(histogram, Counter())
            counts[bucket] += 1
            counts["count"] += 1
            counts["sum_us"] += round(value_ms * 1000)
            ranges = self._ranges.setdefault(histogram, {})
            low, high = ranges.get(bucket, (value_ms, value_ms))
            ranges[bucket] = (min(low, value_ms), max(high, value_ms))

    def count(self, field: str, amount: int = 1) -> None:
        with self._lock:
            self._totals[field] += amount

    def due(self) -> bool:
        return time.monotonic() - self._flushed >= FLUSH_EVERY

    def pending(self) -> bool:
        """Whether anything was observed since the last write."""
        with self._lock:
            return bool(self._totals or self._histograms)

    def take(self) -> tuple[dict[str, Counter[str]], Counter[str], dict[str, dict[str, tuple[float, float]]]]:
        with self._lock:
            histograms, totals, ranges = self._histograms, self._totals, self._ranges
            self._histograms, self._totals, self._ranges = {}, Counter(), {}
            self._flushed = time.monotonic()
        return histograms, totals, ranges

    def ttl_of(self, histogram: str) -> int | None:
        with self._lock:
            return self._ttls.get(histogram)

    def write(self, pipe: Any) -> None:
        """Adds what was observed since the last write to `pipe`."""
        histograms, totals, ranges = self.take()
        for name, counts in histograms.items():
            for field, amount in counts.items():
                pipe.hincrby(keys.histogram(name), field, amount)
        for name, of_buckets in ranges.items():
            freshness.widen_ranges(pipe, keys.histogram_range(name), "", of_buckets)
            ttl = self.ttl_of(name)
            if ttl is not None:
                pipe.expire(keys.histogram(name), ttl)
                pipe.expire(keys.histogram_range(name), ttl)
        for field, amount in totals.items():
            pipe.hincrby(keys.totals(), field, amount)

    def flush(self, connection: redis.Redis) -> None:
        with connection.pipeline(transaction=False) as pipe:
            self.write(pipe)
            pipe.execute()

    async def aflush(self, connection: Any) -> None:
        async with connection.pipeline(transaction=False) as pipe:
            self.write(pipe)
            await pipe.execute()


recorder = Recorder()


def loop_lag_window(now: float | None = None) -> dict[str, float | None]:
    """The gateways' loop lag over the last `LOOP_LAG_WINDOW_MINUTES` minutes, every gateway
    process together: p50/p95/p99 in seconds (`freshness.percentiles`), the worst lag seen
    (`max_s`) and how many probes it counts (`samples`); None where nothing was measured."""
    minute = int((now if now is not None else time.time()) // 60)
    counts: Counter[str] = Counter()
    ranges: dict[str, tuple[float, float]] = {}
    for back in range(LOOP_LAG_WINDOW_MINUTES):
        name = loop_lag_minute(minute - back)
        counts.update(freshness.histogram_counts(name))
        for bucket_name, (low, high) in freshness.histogram_ranges(name).items():
            known = ranges.get(bucket_name, (low, high))
            ranges[bucket_name] = (min(known[0], low), max(known[1], high))
    figures: dict[str, float | None] = dict(freshness.percentiles(counts, LOOP_LAG_BUCKETS_MS, ranges))
    figures["max_s"] = max(high for _, high in ranges.values()) / 1000 if ranges else None
    figures["samples"] = float(counts.get("count", 0))
    return figures
