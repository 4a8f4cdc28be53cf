"""Counters and latency histograms shared by every gateway and worker process, kept in Redis,
and the Prometheus exposition of them with the queue's figures.

Prometheus's own client keeps metrics per process; ours are spread over a daphne process and
several workers (and hosts), so the figures live in Redis: totals in one hash, histograms as one
hash each (a count per bucket, a sum, a count). Processes add their observations in memory and
write them at most once a second, in one pipeline, so a frame costs no extra round trip.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from proctoring import freshness, keys, shards, stats
from proctoring.connections import get_redis

# Upper bounds, in milliseconds.
ENQUEUE_BUCKETS_MS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000)
API_BUCKETS_MS = (10, 25, 50, 100, 200, 300, 500, 1000, 2500, 5000, 10000)
FLUSH_EVERY = 1.0  # seconds


class Recorder:
    """Observations of one process, written to Redis at most every FLUSH_EVERY seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histograms: dict[str, Counter[str]] = {}
        self._totals: Counter[str] = Counter()
        self._flushed = time.monotonic()

    def observe(self, histogram: str, value_ms: float, buckets: tuple[float, ...]) -> None:
        bucket = freshness.bucket(value_ms, buckets)
        with self._lock:
            counts = self._histograms.setdefault(histogram, Counter())
            counts[bucket] += 1
            counts["count"] += 1
            counts["sum_us"] += round(value_ms * 1000)

    def count(self, field: str, amount: int = 1) -> None:
        with self._lock:
            self._totals[field] += amount

    def due(self) -> bool:
        return time.monotonic() - self._flushed >= FLUSH_EVERY

    def pending(self) -> bool:
        """Whether anything was observed since the last write."""
        with self._lock:
            return bool(self._totals or self._histograms)

    def take(self) -> tuple[dict[str, Counter[str]], Counter[str]]:
        with self._lock:
            histograms, totals = self._histograms, self._totals
            self._histograms, self._totals = {}, Counter()
            self._flushed = time.monotonic()
        return histograms, totals

    def write(self, pipe: Any) -> None:
        """Adds what was observed since the last write to `pipe`."""
        histograms, totals = self.take()
        for name, counts in histograms.items():
            for field, amount in counts.items():
                pipe.hincrby(keys.histogram(name), field, amount)
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


class QueueCollector(Collector):
    """Prometheus series read from Redis at each scrape."""

    def collect(self) -> Iterator[Any]:
        figures = stats.queue_figures(with_freshness=False)  # its histograms follow
        depth = GaugeMetricFamily("proctoring_queue_jobs", "Frame jobs by state", labels=["state"])
        for state in ("queued", "running", "retrying", "deferred", "failed"):
            depth.add_metric([state], figures[state])
        yield depth
        age = figures["oldest_queued_age_s"] or 0.0
        yield GaugeMetricFamily(
            "proctoring_oldest_queued_frame_age_seconds", "Oldest waiting frame", value=age
        )
        yield GaugeMetricFamily("proctoring_workers_paused", "1 while paused", value=int(figures["paused"]))
        yield GaugeMetricFamily(
            "proctoring_api_circuit_open",
            "1 while the API's circuit breaker is open (workers take no job)",
            value=int(figures["api_circuit"]["open"]),
        )
        yield GaugeMetricFamily("proctoring_workers", "Workers on the queue", value=len(stats.workers()))
        totals: Counter[str] = Counter()
        for _ in shards.each():
            raw: dict[bytes, bytes] = get_redis().hgetall(keys.totals())  # type: ignore[assignment]
            totals.update({k.decode(): int(v) for k, v in raw.items()})
        frames = CounterMetricFamily("proctoring_frames", "Frames by outcome", labels=["outcome"])
        for outcome in ("received", "completed", "failed", "retried"):
            frames.add_metric([outcome], totals.get(outcome, 0))
        frames.add_metric(["stale"], figures["stale_dropped"])
        frames.add_metric(["coalesced"], figures["coalesced"])
        yield frames
        yield _by_prefix(totals, "rejected:", "proctoring_frames_rejected", "Frames refused", "reason")
        yield _by_prefix(totals, "api_status:", "proctoring_api_responses", "API answers", "status")
        yield _histogram("enqueue", ENQUEUE_BUCKETS_MS, "proctoring_enqueue_seconds", "Enqueue time")
        yield _histogram("api", API_BUCKETS_MS, "proctoring_api_seconds", "API call time")
        yield _histogram(
            "wait",
            freshness.WAIT_BUCKETS_MS,
            "proctoring_wait_seconds",
            "Frames' wait in the queue (received to taken)",
        )
        yield _histogram(
            "run",
            freshness.RUN_BUCKETS_MS,
            "proctoring_run_seconds",
            "Frames' run (taken to answered and stored)",
        )
        yield _histogram(
            "age", freshness.WAIT_BUCKETS_MS, "proctoring_answer_age_seconds", "Frames' age when answered"
        )


def _by_prefix(totals: dict[str, int], prefix: str, metric: str, documentation: str, label: str) -> Any:
    family = CounterMetricFamily(metric, documentation, labels=[label])
    for field, value in sorted(totals.items()):
        if field.startswith(prefix):
            family.add_metric([field.removeprefix(prefix)], value)
    return family


def _histogram(
    name: str, buckets: tuple[float, ...], metric: str, documentation: str
) -> HistogramMetricFamily:
    """One histogram, added up over the shards."""
    counts = freshness.histogram_counts(name)
    cumulative, running = [], 0
    for bound in buckets:
        running += counts.get(str(bound), 0)
        cumulative.append((str(bound / 1000), running))
    running += counts.get("+Inf", 0)
    cumulative.append(("+Inf", running))
    return HistogramMetricFamily(
        metric, documentation, buckets=cumulative, sum_value=counts.get("sum_us", 0) / 1_000_000
    )
