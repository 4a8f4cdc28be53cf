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
FLUSH_EVERY = 1.0  # seconds


class Recorder:
    """Observations of one process, written to Redis at most every FLUSH_EVERY seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histograms: dict[str, Counter[str]] = {}
        # Per histogram and bucket, the least and greatest value seen (`freshness.percentiles`).
        self._ranges: dict[str, dict[str, tuple[float, float]]] = {}
        self._totals: Counter[str] = Counter()
        self._flushed = time.monotonic()

    def observe(self, histogram: str, value_ms: float, buckets: tuple[float, ...]) -> None:
        bucket = freshness.bucket(value_ms, buckets)
        with self._lock:
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

    def write(self, pipe: Any) -> None:
        """Adds what was observed since the last write to `pipe`."""
        histograms, totals, ranges = self.take()
        for name, counts in histograms.items():
            for field, amount in counts.items():
                pipe.hincrby(keys.histogram(name), field, amount)
        for name, of_buckets in ranges.items():
            freshness.widen_ranges(pipe, keys.histogram_range(name), "", of_buckets)
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
