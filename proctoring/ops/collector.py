"""The Prometheus collector: the queue's figures and the shared counters and histograms
(`proctoring.queue.metrics`), read from Redis at each scrape and added up over the shards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from proctoring.ops import stats
from proctoring.queue import freshness
from proctoring.queue.metrics import API_BUCKETS_MS, ENQUEUE_BUCKETS_MS, LOOP_LAG, LOOP_LAG_BUCKETS_MS
from proctoring.store import keys, shards
from proctoring.store.connections import get_redis


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
            "1 while the API's circuit breaker is open or half-open (workers take no job but one probe)",
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
        # stale: dropped past the backfill horizon; late: delivered as backfill (also completed).
        frames.add_metric(["stale"], figures["stale_dropped"])
        frames.add_metric(["late"], figures["late"])
        frames.add_metric(["recovered"], figures["recovered"])
        frames.add_metric(["coalesced"], figures["coalesced"])
        # Answers that came for an attempt erased while its frame ran: dropped, never stored.
        frames.add_metric(["dropped_erased"], totals.get(keys.RESULTS_DROPPED_ERASED, 0))
        yield frames
        yield CounterMetricFamily(
            "proctoring_frames_clock_corrected",
            "Frames whose captured_at was replaced by the receive time",
            value=figures["clock_corrected"],
        )
        yield _by_prefix(totals, "rejected:", "proctoring_frames_rejected", "Frames refused", "reason")
        yield _by_prefix(totals, "api_status:", "proctoring_api_responses", "API answers", "status")
        yield CounterMetricFamily(
            "proctoring_gateway_reads_paused",
            "Times a gateway stopped reading a camera that sent faster than it was served",
            value=totals.get(keys.GATEWAY_READS_PAUSED, 0),
        )
        yield CounterMetricFamily(
            "proctoring_failed_images_evicted",
            "Failed frames' images dropped by the byte caps (their metadata kept)",
            value=figures["failed_images_evicted"],
        )
        yield _histogram("enqueue", ENQUEUE_BUCKETS_MS, "proctoring_enqueue_seconds", "Enqueue time")
        yield _histogram("api", API_BUCKETS_MS, "proctoring_api_seconds", "API call time")
        yield _histogram(
            LOOP_LAG,
            LOOP_LAG_BUCKETS_MS,
            "proctoring_gateway_loop_lag_seconds",
            "How late the gateways' event loops woke from a 50 ms sleep",
        )
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
