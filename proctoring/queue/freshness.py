"""How fresh the frames are that the proctoring sees: per client and overall, how long a frame
waited in the queue (received → taken by a worker), how long it ran (taken → answered and
stored), and how old it was when its answer was there (received → answered).

Overall figures are the Prometheus histograms of `proctoring.queue.metrics` (written by every worker
once a second); per client, the same buckets in one hash per client, written with each delivered
frame's own bookkeeping (no extra round trip), added up over a batch of successes first (`Tally`,
`tallied`). Percentiles are read from the buckets as
Prometheus's `histogram_quantile` does, found in their bucket and placed in it by linear
interpolation, but between the least and greatest value seen in that bucket rather than its
bounds (kept beside the counts, `widen_ranges`): interpolating up to a wide bucket's bound
(10 to 30 s) would report waits longer than any frame had. So a percentile is never above the
greatest value seen nor below the least, and is exact when its bucket holds one value. Without
the range (figures written before it was kept), between the bucket's bounds, and past the last
bound given as that bound.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rq.job import Job

from proctoring.queue import envelopes, fairness
from proctoring.store import keys, shards
from proctoring.store.connections import get_redis

# Upper bounds, in milliseconds.
WAIT_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000)
RUN_BUCKETS_MS = (25, 50, 100, 150, 200, 250, 300, 500, 1000, 2500, 5000, 10000, 30000)
KINDS = {"wait": WAIT_BUCKETS_MS, "run": RUN_BUCKETS_MS, "age": WAIT_BUCKETS_MS}
QUANTILES = (0.5, 0.95, 0.99)
CLIENT_TIMES_TTL = 8 * 24 * 3600  # as a client's counts


def bucket(value_ms: float, buckets: tuple[float, ...]) -> str:
    """The bucket a value falls in, named by its upper bound ("+Inf" past the last)."""
    index = bisect.bisect_left(buckets, value_ms)
    return str(buckets[index]) if index < len(buckets) else "+Inf"


def widen_ranges(pipe: Any, key: str, prefix: str, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Widens the least and greatest values seen per bucket (`ranges`: bucket -> (least,
    greatest), in ms) kept in the sorted set `key` as "<prefix>min:<bucket>" and
    "<prefix>max:<bucket>": ZADD LT and GT, so concurrent writers need no script."""
    if not ranges:
        return
    pipe.zadd(key, {f"{prefix}min:{bucket}": low for bucket, (low, _) in ranges.items()}, lt=True)
    pipe.zadd(key, {f"{prefix}max:{bucket}": high for bucket, (_, high) in ranges.items()}, gt=True)


def read_ranges(raw: Mapping[bytes, float], prefix: str = "") -> dict[str, tuple[float, float]]:
    """`widen_ranges`' sorted set (as ZRANGE ... WITHSCORES gives it, a mapping) back as bucket ->
    (least, greatest)."""
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for member, score in raw.items():
        name = member.decode()
        if not name.startswith(prefix):
            continue
        end, _, bucket_name = name.removeprefix(prefix).partition(":")
        (lows if end == "min" else highs)[bucket_name] = score
    return {name: (lows[name], highs[name]) for name in lows.keys() & highs.keys()}


def percentiles(
    counts: Mapping[str, int],
    buckets: tuple[float, ...],
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, float | None]:
    """p50, p95 and p99 in seconds, None without data: interpolated in the bucket each falls
    in, between the least and greatest value seen there (`ranges`, bucket -> (least, greatest)
    ms), or without them between its bounds (a value past the last bound given as that bound)."""
    per_bucket = [int(counts.get(str(bound), 0)) for bound in buckets] + [int(counts.get("+Inf", 0))]
    total = sum(per_bucket)
    answer: dict[str, float | None] = {}
    for quantile in QUANTILES:
        name = f"p{round(quantile * 100)}"
        if not total:
            answer[name] = None
            continue
        wanted, running = quantile * total, 0
        for index, count in enumerate(per_bucket):
            if count and running + count >= wanted:
                seen = (ranges or {}).get(str(buckets[index]) if index < len(buckets) else "+Inf")
                share = (wanted - running) / count
                if seen is not None:
                    low, high = seen
                    answer[name] = round((low + (high - low) * share) / 1000, 4)
                elif index == len(buckets):  # +Inf: the histogram cannot say more
                    answer[name] = buckets[-1] / 1000
                else:
                    lower = buckets[index - 1] if index else 0
                    answer[name] = round((lower + (buckets[index] - lower) * share) / 1000, 4)
                break
            running += count
    return answer


def record(pipe: Any, client_id: str, wait_ms: float, run_ms: float, age_ms: float) -> None:
    """Adds one delivered frame's times to its client's buckets, in `pipe`; inside `tallied(pipe)`,
    to the tally written with the batch."""
    opened: tuple[Any, Tally] | None = getattr(_tallying, "open", None)
    if opened is not None and opened[0] is pipe:
        opened[1].add(client_id, wait_ms, run_ms, age_ms)
        return
    tally = Tally()
    tally.add(client_id, wait_ms, run_ms, age_ms)
    tally.write(pipe)


class Tally:
    """Delivered frames' times added up per client, bucket and kind, written at once: per client,
    one HINCRBY per bucket touched, one ZADD for the least values and one for the greatest
    (`widen_ranges`' members), and two EXPIREs, however many frames it holds."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}  # client -> "<kind>:<bucket>" -> frames
        self._ranges: dict[str, dict[str, tuple[float, float]]] = {}  # client -> same -> (least, greatest)

    def add(self, client_id: str, wait_ms: float, run_ms: float, age_ms: float) -> None:
        counts = self._counts.setdefault(client_id, Counter())
        ranges = self._ranges.setdefault(client_id, {})
        for kind, value in (("wait", wait_ms), ("run", run_ms), ("age", age_ms)):
            field = f"{kind}:{bucket(value, KINDS[kind])}"
            counts[field] += 1
            low, high = ranges.get(field, (value, value))
            ranges[field] = (min(low, value), max(high, value))

    def write(self, pipe: Any) -> None:
        for client_id, counts in self._counts.items():
            key, range_key = keys.client_times(client_id), keys.client_times_range(client_id)
            for field, frames in counts.items():
                pipe.hincrby(key, field, frames)
            lows, highs = {}, {}
            for field, (low, high) in self._ranges[client_id].items():
                kind, _, name = field.partition(":")
                lows[f"{kind}:min:{name}"], highs[f"{kind}:max:{name}"] = low, high
            pipe.zadd(range_key, lows, lt=True)
            pipe.zadd(range_key, highs, gt=True)
            pipe.expire(key, CLIENT_TIMES_TTL)
            pipe.expire(range_key, CLIENT_TIMES_TTL)


# The pipeline whose `record` calls go to one tally (`tallied`), per thread.
_tallying = threading.local()


@contextmanager
def tallied(pipe: Any) -> Iterator[None]:
    """Within, `record(pipe, ...)` adds to one tally, written to `pipe` as the block ends without
    an error: a batch of delivered frames costs per client a few commands, not a dozen a frame."""
    tally = Tally()
    outer = getattr(_tallying, "open", None)
    _tallying.open = (pipe, tally)
    try:
        yield
    finally:
        _tallying.open = outer
    tally.write(pipe)


def of_clients(client_ids: list[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Each client's wait, run and age percentiles (on the current shard)."""
    with get_redis().pipeline(transaction=False) as pipe:
        for client_id in client_ids:
            pipe.hgetall(keys.client_times(client_id))
            pipe.zrange(keys.client_times_range(client_id), 0, -1, withscores=True)
        answers = pipe.execute()
    figures = {}
    for client_id, raw, raw_ranges in zip(client_ids, answers[::2], answers[1::2], strict=True):
        fields = {field.decode(): int(value) for field, value in raw.items()}
        seen = dict(raw_ranges)
        figures[client_id] = {
            kind: percentiles(
                {
                    name.partition(":")[2]: count
                    for name, count in fields.items()
                    if name.startswith(f"{kind}:")
                },
                buckets,
                read_ranges(seen, f"{kind}:"),
            )
            for kind, buckets in KINDS.items()
        }
    return figures


def oldest_waiting(client_ids: list[str]) -> dict[str, float | None]:
    """Each client's oldest frame still waiting in the queue: its age in seconds, None when it
    has none (on the current shard; from its waiting list, `oldest_received`)."""
    lists = [keys.client_waiting(client_id) for client_id in client_ids]
    received = oldest_received(get_redis(), lists)
    now = datetime.now(UTC)
    return {
        client_id: round((now - at).total_seconds(), 1) if at else None
        for client_id, at in zip(client_ids, received, strict=True)
    }


def oldest_received(
    connection: Any, lists: list[str], scan: int = fairness.PRIORITY_SCAN
) -> list[datetime | None]:
    """When the oldest frame of each list of job ids (the queue, a client's waiting list) was
    received, None for an empty list; three round trips for all the lists.

    Not the list's head: priority frames (a connection's first frame, a flagged client's) go
    to the head, after the priority frames already there, so a list is its priority frames,
    oldest first, then its normal frames, oldest first. Its oldest frame is the older of the
    first priority frame and the first normal one; past `scan` priority frames (the enqueue
    script's own scan, `fairness.PRIORITY_SCAN`), the oldest of those seen. A job without a
    frame envelope counts by its enqueue time."""
    with connection.pipeline(transaction=False) as pipe:
        for key in lists:
            pipe.lrange(key, 0, scan)
        heads: list[list[bytes]] = pipe.execute()
    with connection.pipeline(transaction=False) as pipe:
        for ids in heads:
            for raw_id in ids:
                pipe.hmget(Job.key_for(raw_id.decode()), ["pri", "enqueued_at"])
        marks = pipe.execute()
    candidates: list[list[tuple[str, bytes | None]]] = []
    offset = 0
    for ids in heads:
        seen: list[tuple[str, bytes | None]] = []
        for raw_id, (priority, enqueued) in zip(ids, marks[offset : offset + len(ids)], strict=True):
            seen.append((raw_id.decode(), enqueued))
            if priority != b"1":  # the first normal frame: those behind it are younger
                break
        offset += len(ids)
        candidates.append(seen)
    with connection.pipeline(transaction=False) as pipe:
        for seen in candidates:
            for job_id, _ in seen:
                envelopes.fetch_head(pipe, keys.frame(job_id))
        metas = iter(envelopes.meta_of(head) for head in pipe.execute())
    answer: list[datetime | None] = []
    for seen in candidates:
        times = []
        for _, enqueued in seen:
            meta = next(metas)
            if meta is not None:
                times.append(meta.received_at)
            elif enqueued:
                times.append(datetime.fromisoformat(enqueued.decode()))
        answer.append(min(times) if times else None)
    return answer


def histogram_counts(name: str) -> Counter[str]:
    """One of `proctoring.queue.metrics`' histograms (count per bucket, sum_us, count), added up over
    the shards (workers write theirs on their own shard)."""
    counts: Counter[str] = Counter()
    for _ in shards.each():
        raw: dict[bytes, bytes] = get_redis().hgetall(keys.histogram(name))  # type: ignore[assignment]
        counts.update({field.decode(): int(value) for field, value in raw.items()})
    return counts


def histogram_ranges(name: str) -> dict[str, tuple[float, float]]:
    """The least and greatest value seen per bucket of a histogram, over the shards."""
    ranges: dict[str, tuple[float, float]] = {}
    for _ in shards.each():
        raw = get_redis().zrange(keys.histogram_range(name), 0, -1, withscores=True)
        for bucket_name, (low, high) in read_ranges(dict(raw)).items():  # type: ignore[arg-type]
            known = ranges.get(bucket_name, (low, high))
            ranges[bucket_name] = (min(known[0], low), max(known[1], high))
    return ranges


def overall() -> dict[str, dict[str, float | None]]:
    """Wait, run and age percentiles of every frame delivered, over every shard."""
    return {
        kind: percentiles(histogram_counts(kind), buckets, histogram_ranges(kind))
        for kind, buckets in KINDS.items()
    }
