"""One typed call per Lua script in this folder: its keys and arguments by name, in the order of
the script's header (tests/unit/store/test_lua_scripts.py holds each call against its header).

Keys come from `proctoring.store.keys` (and RQ's own key functions); a `*_template` argument is
`keys.template(...)` of a key the script only discovers while it runs. Each call runs its script
by SHA (`proctoring.store.lua`); given a pipeline, it queues the call there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from proctoring.store import lua


def enqueue(
    client: redis.Redis | redis.asyncio.Redis,
    *,
    job_writes: str,
    pending: str,
    queue: str,
    frame: str,
    counts: str,
    clients: str,
    minute: str,
    suspended: str,
    totals: str,
    priority_window: str,
    scheduled: str,
    hint: str,
    backlogged_ring: str,
    waiting: str,
    sparse_ring: str,
    hasty: str,
    job: str,
    failed_kinds: str,
    refusals: str,
    job_id: str,
    received_at: float,
    client_limit: int,
    queue_limit: int,
    envelope: bytes,
    frame_ttl: int,
    stamp: str,
    description: str,
    client_id: str,
    counts_ttl: int,
    minute_ttl: int,
    want_priority: bool,
    due: int,
    coalesce: bool,
    priority_scan: int,
    sparse_backlog: int,
    hasty_seconds: int,
    job_template: str,
    frame_template: str,
    waiting_template: str,
    counts_template: str,
    failed_template: str,
    kind_template: str,
    seq: int,
    clock_corrected: bool,
    refuse_after: int,
) -> Any:
    """Admits and enqueues one frame (enqueue.lua); `job_writes` is RQ's writes for its job as
    Lua (`JobTemplate.lua`).

    Returns:
        {verdict, queue length, paused, priority, hint, replaced id, refusals} (see the script); on an
        asyncio client an awaitable of it, on a pipeline the pipeline.
    """
    return lua.script("enqueue.lua", job_writes=job_writes)(
        client,
        [pending, queue, frame, counts, clients, minute, suspended, totals, priority_window,
         scheduled, hint, backlogged_ring, waiting, sparse_ring, hasty, job, failed_kinds, refusals],
        [job_id, received_at, client_limit, queue_limit, envelope, frame_ttl, stamp, description,
         client_id, counts_ttl, minute_ttl, "1" if want_priority else "0", due,
         "1" if coalesce else "0", priority_scan, sparse_backlog, hasty_seconds, job_template,
         frame_template, waiting_template, counts_template, failed_template, kind_template, seq,
         "1" if clock_corrected else "0", refuse_after],
    )  # fmt: skip


def take(
    client: redis.Redis,
    *,
    queue: str,
    started_registry: str,
    worker: str,
    worker_executions: str,
    suspended: str,
    circuit_open: str,
    api_failures: str,
    api_probe: str,
    backlogged_ring: str,
    sparse_ring: str,
    ring_turn: str,
    failed_kinds: str,
    n: int,
    now: str,
    stamp: str,
    worker_name: str,
    worker_ttl: int,
    lease: int,
    breaker_threshold: int,
    breaker_cooldown: int,
    fair: bool,
    flagged_weight: int,
    sparse_backlog: int,
    backlog: int,
    job_template: str,
    execution_template: str,
    executions_template: str,
    frame_template: str,
    waiting_template: str,
    priority_template: str,
    counts_template: str,
    failed_template: str,
    kind_template: str,
    live_since: str,
    pending_template: str,
    execution_ids: Sequence[str],
) -> list[Any]:
    """Takes up to `n` jobs and starts an execution of each (take.lua); `execution_ids` holds
    `n` new ids.

    Returns:
        [-1] suspended, [-2] circuit open, [-3] probe out; else [sparse frames taken, held back
        (0/1), then id, execution id, job hash (flat), envelope or None per job].
    """
    answer: list[Any] = lua.script("take.lua")(
        client,
        [queue, started_registry, worker, worker_executions, suspended, circuit_open, api_failures,
         api_probe, backlogged_ring, sparse_ring, ring_turn, failed_kinds],
        [n, now, stamp, worker_name, worker_ttl, lease, breaker_threshold, breaker_cooldown,
         "1" if fair else "0", flagged_weight, sparse_backlog, backlog, job_template,
         execution_template, executions_template, frame_template, waiting_template,
         priority_template, counts_template, failed_template, kind_template, live_since,
         pending_template, *execution_ids],
    )  # fmt: skip
    return answer


def counts_move(
    client: redis.Redis,
    *,
    job: str,
    failed_kinds: str,
    job_id: str,
    to: str,
    expire_at: str,
    extra: str,
    counts_template: str,
    failed_template: str,
    kind_template: str,
) -> Any:
    """Moves job `job_id` to state `to` in its client's counts (counts_move.lua).

    Returns:
        1 if it moved, else 0; on a pipeline, the pipeline.
    """
    return lua.script("counts_move.lua")(
        client,
        [job, failed_kinds],
        [job_id, to, expire_at, extra, counts_template, failed_template, kind_template],
    )


def counts_reconcile(
    client: redis.Redis,
    *,
    failed_kinds: str,
    now: str,
    job_template: str,
    pending_template: str,
    counts_template: str,
    failed_template: str,
    kind_template: str,
    client_ids: Sequence[str],
) -> int:
    """Puts right the counts of `client_ids` from their jobs (counts_reconcile.lua).

    Returns:
        How many clients' counts were changed.
    """
    changed = lua.script("counts_reconcile.lua")(
        client,
        [failed_kinds],
        [now, job_template, pending_template, counts_template, failed_template, kind_template, *client_ids],
    )
    return int(changed)


def breaker_failure(
    client: redis.Redis, *, api_failures: str, circuit_open: str, threshold: int, cooldown: int, now: float
) -> bool:
    """Counts one failed API call (breaker_failure.lua).

    Returns:
        Whether this failure opened the circuit.
    """
    opened = lua.script("breaker_failure.lua")(
        client, [api_failures, circuit_open], [threshold, cooldown, now]
    )
    return bool(opened)


def fairness_join(
    client: redis.Redis,
    *,
    waiting: str,
    sparse_ring: str,
    job_id: str,
    client_id: str,
    at_front: bool,
    ttl: int,
) -> Any:
    """Job `job_id`, back in the queue, joins its client's waiting list (fairness_join.lua).

    Returns:
        None; on a pipeline, the pipeline.
    """
    return lua.script("fairness_join.lua")(
        client, [waiting, sparse_ring], [job_id, client_id, "1" if at_front else "0", ttl]
    )


async def connection_admit(
    client: redis.asyncio.Redis,
    *,
    ip_sockets: str,
    attempt_sockets: str,
    now: float,
    lease_end: float,
    member: str,
    ip_limit: int,
    attempt_limit: int,
    lease: int,
) -> int:
    """Takes a place for a new camera socket (connection_admit.lua).

    Returns:
        0 admitted, 1 the IP address is at its limit, 2 the attempt is.
    """
    verdict = await lua.script("connection_admit.lua")(
        client,
        [ip_sockets, attempt_sockets],
        [now, lease_end, member, ip_limit, attempt_limit, lease],
    )
    return int(verdict)


def worker_name_claim(client: redis.Redis, *, worker: str, claim: str, ttl: int, claimer: str) -> bool:
    """Claims a worker name for `ttl` seconds (worker_name_claim.lua).

    Returns:
        Whether the name is now `claimer`'s.
    """
    return bool(lua.script("worker_name_claim.lua")(client, [worker, claim], [ttl, claimer]))


def failed_image(
    client: redis.Redis,
    *,
    frame: str,
    images: str,
    sizes: str,
    total: str,
    client_bytes: str,
    failed_registry: str,
    totals: str,
    job_id: str,
    client_id: str,
    mode: str,
    now: float,
    expired_before: float,
    max_bytes: int,
    client_max_bytes: int,
    client_template: str,
    frame_template: str,
    evicted_field: str,
) -> Any:
    """Keeps a finally failed frame's image within the byte caps, or cuts it to its header
    (failed_image.lua).

    Returns:
        How many images the caps cut; on a pipeline, the pipeline.
    """
    return lua.script("failed_image.lua")(
        client,
        [frame, images, sizes, total, client_bytes, failed_registry, totals],
        [
            job_id,
            client_id,
            mode,
            now,
            expired_before,
            max_bytes,
            client_max_bytes,
            client_template,
            frame_template,
            evicted_field,
        ],
    )


def client_erase(
    client: Any,
    *,
    pending: str,
    waiting: str,
    failed: str,
    failed_images: str,
    counts: str,
    priority: str,
    latest: str,
    hint: str,
    hasty: str,
    times: str,
    connections: str,
    refusals: str,
    queue: str,
    scheduled: str,
    failed_registry: str,
    started: str,
    backlogged_ring: str,
    sparse_ring: str,
    ring_turn: str,
    clients: str,
    failed_kinds: str,
    client_id: str,
    job_template: str,
    frame_template: str,
    kind_template: str,
    executions_template: str,
    execution_template: str,
    results_template: str,
    whole: bool,
    job_ids: Sequence[str],
) -> Any:
    """Erases one client from Redis: its jobs, frames and keys (client_erase.lua).

    Returns:
        [jobs erased, frames erased, client keys erased, ids of the jobs left running]; on a
        pipeline, the pipeline.
    """
    return lua.script("client_erase.lua")(
        client,
        [pending, waiting, failed, failed_images, counts, priority, latest, hint, hasty, times,
         connections, refusals, queue, scheduled, failed_registry, started, backlogged_ring, sparse_ring,
         ring_turn, clients, failed_kinds],
        [client_id, job_template, frame_template, kind_template, executions_template,
         execution_template, results_template, "1" if whole else "0", *job_ids],
    )  # fmt: skip
