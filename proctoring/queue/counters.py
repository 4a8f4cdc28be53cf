"""Per-client counts of frames by state, kept in Redis and moved atomically with each job, so
that the admin and `proctoring_stats` read O(clients) keys, never every job.

Each frame job carries the state it is counted in in its own hash (field `pc`: q queued,
r running, s waiting to retry, f failed), and every transition runs one Lua function that moves
the job from that state to the new one, in the same atomic step as the transition itself where
the transition is ours (enqueue, take, success), or right beside RQ's where it is RQ's (retry,
final failure, requeue). A transition made twice moves nothing the second time, and one RQ makes
without us (a requeue from django-rq's page, an abandoned job retried by RQ's cleanup) is put
right at the job's next transition instead of leaving the counts off for ever. Failed frames are
a sorted set per client scored by when RQ's failed registry lets them expire, so the failed count
follows RQ's expiry by itself.

A frame job's hash names its frame beside RQ's fields: `client` and `seq`, written by the
enqueue script (`frame_of` reads them back).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, cast

import redis
from rq.job import Job

from proctoring.queue import failed_images, policy
from proctoring.store import keys, rq_internals, scripts
from proctoring.store.connections import get_redis

QUEUED, RUNNING, RETRYING, FAILED, DONE = "q", "r", "s", "f", "x"
STALE = "stale"  # the `extra` of a frame dropped past the backfill horizon: counted per client and minute
COUNTS_TTL = 8 * 24 * 3600  # a client's counts outlive a week of silence (refreshed by each frame)
MINUTE_TTL = 3700  # per-minute throughput buckets are kept a little over an hour
# The keys the counts scripts find by a job's client (proctoring/store/scripts/includes/pc_move.lua).


def move(
    job_id: str,
    to: str,
    *,
    pipeline: Any = None,
    connection: redis.Redis | None = None,
    failed_ttl: int = 0,
    extra: str = "",
) -> None:
    """Moves frame job `job_id` to state `to` in its client's counts (on `pipeline` if given:
    redis-py loads the script before the pipeline runs, should Redis have lost it). `extra`
    (e.g. "completed:2026-11-29", "stale") is counted once, on the move to DONE; on the move to
    FAILED it is the error's kind (exception class), indexed for the failed-jobs page."""
    expire_at = time.time() + failed_ttl if to == FAILED else 0
    target = pipeline if pipeline is not None else connection or get_redis()
    if to == DONE and extra == STALE:
        count_minute(target, STALE)  # the throughput chart's stale frames
    scripts.counts_move(
        target,
        job=Job.key_for(job_id),
        failed_kinds=keys.FAILED_KINDS,
        job_id=job_id,
        to=to,
        expire_at=repr(expire_at),
        extra=extra,
        counts_template=keys.COUNTS_TEMPLATE,
        failed_template=keys.FAILED_TEMPLATE,
        kind_template=keys.KIND_TEMPLATE,
    )


FRAME_FIELDS = (b"client", b"seq")  # the job hash's fields that name its frame
_DESCRIPTION = re.compile(r"^frame (.*)#(-?\d+)$")


class FrameJob(Job):
    """RQ's job, keeping the fields that name its frame, which RQ's `restore` drops: a page of
    jobs fetched as `FrameJob.fetch_many` knows their frames without reading their hashes again."""

    frame_fields: tuple[bytes | None, bytes | None] | None = None  # set by restore

    def restore(self, raw_data: Any) -> Any:
        restored = super().restore(raw_data)
        self.frame_fields = (raw_data.get(FRAME_FIELDS[0]), raw_data.get(FRAME_FIELDS[1]))
        return restored


def frame_of(job: Job) -> tuple[str, int] | None:
    """The client and seq of a frame job, None for any other job: from a `FrameJob`'s fields, or
    for any other job read from its hash (one HMGET)."""
    if job.func_name != policy.FRAME_JOB:
        return None
    if isinstance(job, FrameJob) and job.frame_fields is not None:
        client, seq = job.frame_fields
    else:
        client, seq = cast(list[bytes | None], job.connection.hmget(job.key, FRAME_FIELDS))
    if client is not None and seq is not None:
        return client.decode(), int(seq)
    # Jobs enqueued before the `client` and `seq` fields existed name their frame only in their
    # description, "frame <client id>#<seq>".
    match = _DESCRIPTION.match(job.description or "")
    return (match.group(1), int(match.group(2))) if match else None


def client_of(job: Job) -> str | None:
    """The client of a frame job, None for any other job (see `frame_of`)."""
    ref = frame_of(job)
    return ref[0] if ref else None


def minute_key(at: float | None = None) -> str:
    return keys.minute(int((at if at is not None else time.time()) // 60))


def count_minute(pipe: Any, field: str, at: float | None = None) -> None:
    """Adds one to this minute's `field` (received, completed, failed, stale)."""
    key = minute_key(at)
    pipe.hincrby(key, field, 1)
    pipe.expire(key, MINUTE_TTL)


def completed_field(day: datetime | None = None) -> str:
    return f"completed:{(day or datetime.now(UTC)).date().isoformat()}"


def read(client_ids: list[str], connection: redis.Redis | None = None) -> dict[str, dict[str, Any]]:
    """Each client's counts: queued, running, retrying, failed, completed today, stale, replaced
    (`coalesced`), capture times replaced by the receive time (`clock_corrected`), last frame
    time (epoch seconds or None). Two commands per client, in one round trip."""
    connection = connection or get_redis()
    now = time.time()
    today = completed_field()
    with connection.pipeline(transaction=False) as pipe:
        for client_id in client_ids:
            pipe.hgetall(keys.client_counts(client_id))
            pipe.zcount(keys.client_failed(client_id), now, "+inf")
        answers = pipe.execute()
    figures: dict[str, dict[str, Any]] = {}
    for index, client_id in enumerate(client_ids):
        counts = {k.decode(): v.decode() for k, v in answers[2 * index].items()}
        last = counts.get("last_frame_at")
        figures[client_id] = {
            "queued": max(0, int(counts.get("queued", 0))),
            "running": max(0, int(counts.get("running", 0))),
            "retrying": max(0, int(counts.get("retrying", 0))),
            "failed": int(answers[2 * index + 1]),
            "completed_today": int(counts.get(today, 0)),
            "stale": int(counts.get("stale", 0)),
            "coalesced": int(counts.get("coalesced", 0)),
            "clock_corrected": int(counts.get("clock_corrected", 0)),
            "last_frame_at": float(last) if last else None,
        }
    return figures


def clients(connection: redis.Redis | None = None, since: float = 0.0) -> list[str]:
    """Every client that sent a frame since `since` (epoch seconds), most recent first."""
    connection = connection or get_redis()
    # Clients silent for longer than their counts are kept leave the index too.
    connection.zremrangebyscore(keys.clients_index(), "-inf", time.time() - COUNTS_TTL)
    members: list[bytes] = connection.zrevrangebyscore(keys.clients_index(), "+inf", since)  # type: ignore[assignment]
    return [member.decode() for member in members]


RECONCILE_BATCH = 100  # clients per script call, so that no call holds Redis for long
RECONCILE_WINDOW = 2 * 3600  # seconds: clients heard from this recently are put right


def reconcile(client_ids: list[str] | None = None, connection: redis.Redis | None = None) -> int:
    """Puts right the counts of `client_ids` (default: every client heard from in the last
    two hours) from their jobs; returns how many clients' counts had drifted."""
    connection = connection or get_redis()
    if client_ids is None:
        client_ids = clients(connection, since=time.time() - RECONCILE_WINDOW)
    changed = 0
    for start in range(0, len(client_ids), RECONCILE_BATCH):
        changed += scripts.counts_reconcile(
            connection,
            failed_kinds=keys.FAILED_KINDS,
            now=repr(time.time()),
            job_template=rq_internals.JOB_TEMPLATE,
            pending_template=keys.PENDING_TEMPLATE,
            counts_template=keys.COUNTS_TEMPLATE,
            failed_template=keys.FAILED_TEMPLATE,
            kind_template=keys.KIND_TEMPLATE,
            client_ids=client_ids[start : start + RECONCILE_BATCH],
        )
    return changed


ORPHAN_SCAN_STEP = 500  # keys asked of each SCAN call
ORPHAN_SCAN_BUDGET = 5000  # keys looked at per call of `remove_orphan_frames`, at most (about)


def remove_orphan_frames(cursor: int = 0, connection: redis.Redis | None = None) -> tuple[int, int]:
    """A bounded step of a walk over the frames' envelopes: SCANs on from `cursor` over about
    `ORPHAN_SCAN_BUDGET` keys and removes the envelopes whose job is gone (a failed job deleted
    from django-rq's own pages, which know nothing of them: its image would stay, unseen, as
    long as its TTL), forgetting the bytes of a kept failed image. Returns the cursor to go on
    from (0: the walk is over, start again) and how many envelopes were removed.

    An envelope and its job are written in one step (enqueue.lua) and a job id is never used
    again, so an envelope found without its job stays so: removing it races with nothing."""
    connection = connection or get_redis()
    looked, removed = 0, 0
    while looked < ORPHAN_SCAN_BUDGET:
        cursor, found = cast(
            tuple[int, list[bytes]], connection.scan(cursor, match=keys.FRAME_MATCH, count=ORPHAN_SCAN_STEP)
        )
        looked += ORPHAN_SCAN_STEP
        removed += _remove_orphans(
            connection, [key.decode().removeprefix(keys.FRAME_PREFIX) for key in found]
        )
        if cursor == 0:
            break
    return int(cursor), removed


def _remove_orphans(connection: redis.Redis, job_ids: list[str]) -> int:
    if not job_ids:
        return 0
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(Job.key_for(job_id))
            pipe.hget(keys.failed_image_sizes(), job_id)
        answers = pipe.execute()
    orphans = [
        (job_id, kept)
        for job_id, exists, kept in zip(job_ids, answers[::2], answers[1::2], strict=True)
        if not exists
    ]
    if not orphans:
        return 0
    with connection.pipeline() as pipe:
        for job_id, kept in orphans:
            if kept:  # "<bytes> <client id>"
                failed_images.settle(pipe, job_id, kept.decode().partition(" ")[2], failed_images.FORGET)
            pipe.delete(keys.frame(job_id))
        pipe.execute()
    return len(orphans)
