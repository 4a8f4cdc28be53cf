"""What the queue looks like now, as plain data: per state, per worker, per client, per minute.

Every figure is read from RQ's registries (one count each) or from the per-client counters
(`proctoring.queue.counters`, two reads per client), never by walking the jobs, and none of the reads
runs RQ's registry cleanup (django-rq's counts do). The admin pages, `proctoring_stats` and the
JSON endpoint all show this.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry
from rq.suspension import WORKERS_SUSPENDED
from rq.worker import Worker

from exams.models import Attempt
from proctoring.queue import breaker, counters, fairness, freshness, metrics, policy
from proctoring.store import keys, shards

MINUTES = 15  # throughput history shown
# What each minute counts (`counters.count_minute`), as the throughput chart shows it.
MINUTE_FIELDS = ("received", "completed", "late", "failed", "stale")


_SUMMED = (
    "queued", "running", "retrying", "deferred", "failed", "stale_dropped", "late", "recovered",
    "coalesced", "clock_corrected",
)  # fmt: skip


def queue_figures(
    overall: dict[str, dict[str, float | None]] | None = None, *, with_freshness: bool = True
) -> dict[str, Any]:
    """Counts per state for the whole queue, the oldest waiting frame's age, and whether
    workers are paused: added up over every shard (`REDIS_SHARDS`), each shard's own under
    `shards` when there are several. With the freshness percentiles (`wait_p95_s`...), from
    `overall` when the caller has read them already (`/metrics` shows the histograms instead), and
    the gateways' loop lag over the last minutes (`loop_lag_p99_s`, `loop_lag_max_s`)."""
    per_shard = [_shard_figures() for _ in shards.each()]
    fresh = _freshness_figures(overall) if with_freshness else {}
    if len(per_shard) == 1:
        return {**per_shard[0], **fresh}
    ages = [
        figures["oldest_queued_age_s"] for figures in per_shard if figures["oldest_queued_age_s"] is not None
    ]
    circuits = [figures["api_circuit"] for figures in per_shard]
    return {
        "queue": per_shard[0]["queue"],
        **{name: sum(figures[name] for figures in per_shard) for name in _SUMMED},
        "oldest_queued_age_s": max(ages) if ages else None,
        "failed_images_evicted": sum(figures["failed_images_evicted"] for figures in per_shard),
        "order": settings.PROCTORING_QUEUE_ORDER,
        "coalesce": settings.PROCTORING_COALESCE or "off",
        "paused": any(figures["paused"] for figures in per_shard),
        # Each shard's workers have their own breaker: open when any is.
        "api_circuit": next((circuit for circuit in circuits if circuit["open"]), circuits[0]),
        "shards": per_shard,
        **fresh,
    }


def _freshness_figures(overall: dict[str, dict[str, float | None]] | None) -> dict[str, float | None]:
    """The delivered frames' wait, run and answer age (seconds, estimated from histogram buckets), flat:
    `wait_p95_s`..."""
    figures = {
        f"{kind}_{name}_s": value
        for kind, quantiles in (overall if overall is not None else freshness.overall()).items()
        for name, value in quantiles.items()
    }
    # The gateways' event loops over the last minutes: how late a frame's handling could start.
    lag = metrics.loop_lag_window()
    figures["loop_lag_p99_s"], figures["loop_lag_max_s"] = lag["p99"], lag["max_s"]
    return figures


def _shard_figures() -> dict[str, Any]:
    queue = policy.get_queue()
    connection = queue.connection
    with connection.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)
        pipe.zcard(queue.started_job_registry.key)
        pipe.zcard(ScheduledJobRegistry(queue=queue).key)
        pipe.zcard(DeferredJobRegistry(queue=queue).key)
        pipe.zcount(FailedJobRegistry(queue=queue).key, time.time(), "+inf")
        pipe.exists(WORKERS_SUSPENDED)
        pipe.get(keys.stale_count())
        pipe.hmget(keys.totals(), ["coalesced", "clock_corrected", "recovered", "late"])
        queued, running, scheduled, deferred, failed, paused, stale, totals = pipe.execute()
    coalesced, clock_corrected, recovered, late = totals
    [oldest] = freshness.oldest_received(connection, [queue.key], fairness.PRIORITY_SCAN)
    return {
        "queue": queue.name,
        "queued": queued,
        "running": running,
        "retrying": scheduled,
        "deferred": deferred,
        "failed": failed,
        "failed_images_evicted": _images_evicted(connection),
        # Dropped past the backfill horizon (the admin's expired list), and delivered late.
        "stale_dropped": int(stale or 0),
        "late": int(late or 0),
        "recovered": int(recovered or 0),
        "coalesced": int(coalesced or 0),
        "clock_corrected": int(clock_corrected or 0),
        "oldest_queued_age_s": _age(oldest),
        "paused": bool(paused),
        "api_circuit": breaker.state(connection),
        "order": settings.PROCTORING_QUEUE_ORDER,
        "coalesce": settings.PROCTORING_COALESCE or "off",
    }


def _images_evicted(connection: Any) -> int:
    """Failed frames whose image the failed frames' byte caps dropped (their metadata is kept)."""
    return int(connection.hget(keys.totals(), keys.FAILED_IMAGES_EVICTED) or 0)


def _age(received: datetime | None) -> float | None:
    """Seconds since `received` (the oldest waiting frame's receive time), None without one."""
    return None if received is None else round((datetime.now(UTC) - received).total_seconds(), 3)


def workers() -> list[dict[str, Any]]:
    """Every worker registered on the queue, on any host, by name: where it runs (host, pid),
    its state (idle, busy, suspended...), the jobs it runs now (many at once), its successes
    and failures, when it started and when it last reported."""
    rows = []
    for index, _ in enumerate(shards.each()):
        rows.extend(_shard_workers(index))
    return sorted(rows, key=lambda row: row["name"])


_WORKER_COUNTS = (keys.WORKER_DELIVERED, keys.WORKER_DROPPED, keys.WORKER_FAILED_FOR_GOOD)


def _shard_workers(shard: int) -> list[dict[str, Any]]:
    queue = policy.get_queue()
    rows = []
    found = Worker.all(queue=queue)
    with queue.connection.pipeline(transaction=False) as pipe:
        for worker in found:
            pipe.hmget(worker.key, _WORKER_COUNTS)
        counts = pipe.execute()
    for worker, (delivered, dropped, failed_for_good) in zip(found, counts, strict=True):
        executions = worker.get_current_executions()
        rows.append(
            {
                "name": worker.name,
                "hostname": worker.hostname,
                "pid": worker.pid,
                "state": str(worker.get_state()),
                "running": len(executions),
                "current_jobs": sorted(execution.job_id for execution in executions)[:10],
                # RQ's: every job that ended without an error, every attempt that raised.
                "successful": worker.successful_job_count,
                "failed": worker.failed_job_count,
                # Frame jobs: delivered (late ones too), dropped unsent (expired), failed with no retry left.
                "delivered": int(delivered or 0),
                "dropped": int(dropped or 0),
                "failed_for_good": int(failed_for_good or 0),
                "birth": worker.birth_date.isoformat() if worker.birth_date else None,
                "last_heartbeat": worker.last_heartbeat.isoformat() if worker.last_heartbeat else None,
                "shard": shard,
            }
        )
    return rows


def clients(since: float = 0.0, limit: int | None = None) -> list[dict[str, Any]]:
    """One row per client (exam attempt) that sent a frame since `since`, most recent first,
    with its user and exam when the attempt is known."""
    figures: dict[str, dict[str, Any]] = {}
    times: dict[str, dict[str, dict[str, float | None]]] = {}
    oldest: dict[str, float | None] = {}
    for _ in shards.each():  # a client's counts are all on its own shard
        ids = counters.clients(since=since)[:limit]
        figures.update(counters.read(ids))
        times.update(freshness.of_clients(ids))
        oldest.update(freshness.oldest_waiting(ids))
    client_ids = sorted(figures, key=lambda client: -(figures[client]["last_frame_at"] or 0))[:limit]
    attempts = attempts_of(client_ids)
    rows = []
    for client_id in client_ids:
        attempt = attempts.get(client_id)
        row = {"client": client_id, **figures[client_id]}
        row["user"] = attempt.user.get_username() if attempt else None
        row["exam"] = attempt.exam.slug if attempt else None
        row["backlog"] = row["queued"] + row["retrying"]
        row["oldest_waiting_s"] = oldest.get(client_id)
        # Seconds (estimated from buckets): how long its frames waited, ran, and how old their answers were.
        for kind in freshness.KINDS:
            for name, value in times.get(client_id, {}).get(kind, {}).items():
                row[f"{kind}_{name}"] = value
            for quantile in freshness.QUANTILES:
                row.setdefault(f"{kind}_p{round(quantile * 100)}", None)
        rows.append(row)
    return rows


def attempts_of(client_ids: Iterable[str]) -> dict[str, Attempt]:
    """The exam attempts among these client ids (any id that is no UUID is simply not one)."""
    valid = set()
    for client_id in client_ids:
        try:
            valid.add(uuid.UUID(client_id))
        except ValueError:
            continue
    found = Attempt.objects.filter(pk__in=valid).select_related("user", "exam")
    return {str(attempt.pk): attempt for attempt in found}


def throughput(minutes: int = MINUTES) -> list[dict[str, Any]]:
    """Frames received, completed (late: delivered as backfill, among them), failed and expired
    (`stale`: dropped past the backfill horizon) per minute, oldest first, this minute included."""
    now_minute = int(time.time() // 60)
    span = range(now_minute - minutes + 1, now_minute + 1)
    buckets: list[Counter[bytes]] = [Counter() for _ in span]
    for _ in shards.each():
        with policy.get_queue().connection.pipeline(transaction=False) as pipe:
            for minute in span:
                pipe.hgetall(keys.minute(minute))
            for total, bucket in zip(buckets, pipe.execute(), strict=True):
                total.update({field: int(value) for field, value in bucket.items()})
    return [
        {
            "minute": datetime.fromtimestamp(minute * 60, UTC).isoformat(),
            **{field: int(bucket.get(field.encode(), 0)) for field in MINUTE_FIELDS},
        }
        for minute, bucket in zip(span, buckets, strict=True)
    ]


# What a token holder sees of a worker: where it runs and how busy it is, not which jobs it runs.
_WORKER_AGGREGATE_FIELDS = (
    "name", "hostname", "pid", "state", "running", "successful", "failed", "delivered", "dropped",
    "failed_for_good", "birth", "last_heartbeat", "shard",
)  # fmt: skip


def aggregates() -> dict[str, Any]:
    """`snapshot` without anything that names a person, an attempt or a job (no client rows, no
    job ids): what a monitoring system holding PROCTORING_STATS_TOKEN reads. Fields are listed,
    not removed, so that a field added to `snapshot` stays out of it until chosen."""
    overall = freshness.overall()
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "queue": queue_figures(overall),
        "freshness": overall,
        "workers": [{field: row[field] for field in _WORKER_AGGREGATE_FIELDS} for row in workers()],
        "throughput": throughput(),
    }


def snapshot(client_limit: int | None = None) -> dict[str, Any]:
    overall = freshness.overall()
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "queue": queue_figures(overall),
        "freshness": overall,
        "workers": workers(),
        "throughput": throughput(),
        "clients": clients(limit=client_limit),
    }
