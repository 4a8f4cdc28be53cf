"""The one place that enqueues frames: per-client admission, and where a frame's bytes live while
its job waits (the job's policy is `proctoring.queue.policy`'s).

A frame is enqueued in one round trip, with no thread hop and nothing compressed: one Lua script
admits it (the client's pending set and the whole queue have room) and, only then, runs the
writes: the frame's bytes under their own key, then RQ's own writes for the job, recorded from
`Queue.enqueue_job` on a pipeline that is never executed, so the job is exactly what RQ itself
would have written. The script is atomic: a frame is either refused with nothing written, or
queued whole. The gateway runs it on an asyncio client (`aenqueue_frame`); `enqueue_frame` is
the same for synchronous callers.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import redis
import redis.asyncio
from django.conf import settings
from rq import Callback, Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import utcformat

from proctoring.core import clock
from proctoring.core.exceptions import FramesRefused, QueueFull, QueueUnavailable, RateLimited
from proctoring.core.frames import Frame, FrameMeta, pack_frame
from proctoring.queue import counters, fairness, job_template, policy
from proctoring.store import keys, rq_internals, scripts
from proctoring.store.connections import get_async_redis, get_redis

log = logging.getLogger(__name__)


class Enqueued(NamedTuple):
    job_id: str
    queued: int  # frames waiting in the queue (all clients) before this one
    paused: bool = False  # workers are paused (the frame waits until they resume)
    priority: bool = False  # queued ahead of normal frames
    hint: str | None = None  # what the client's latest analysed frame showed (`hints.HINTS`)
    replaced: str | None = None  # the waiting frame this one took the place of (latest-frame-wins)
    refusals: int = 0  # the client's frames the API refused in a row, none delivered since


Command = tuple[tuple[Any, ...], dict[str, Any]]
_recorder_lock = threading.Lock()
_recorders: dict[int, Queue] = {}


def enqueue_frame(
    client_id: str, attempt_id: str, seq: int, frame: Frame, *, priority: bool = False, delay: float = 0
) -> str:
    """Queues one frame for the API and returns its job id (also the API's idempotency key).

    `priority` puts the frame ahead of every normal frame waiting (a client's frames are also
    queued with priority for `PROCTORING_PRIORITY_AFTER_FLAG` seconds after a flagged result).
    `delay` (seconds, up to a day) holds it back: RQ's scheduled registry keeps it until it is
    due, then the worker's scheduler moves it to the queue's tail.

    Raises:
        ValueError: `delay` is negative or longer than a day.
        RateLimited: the client already has `PROCTORING_MAX_PENDING_PER_CLIENT` frames pending.
        QueueFull: `PROCTORING_MAX_QUEUED` frames are waiting already.
        FramesRefused: the API refused the client's last `PROCTORING_REFUSALS_TO_BLOCK` frames.
        QueueUnavailable: Redis did not confirm the job; nothing is queued.
    """
    connection = get_redis()
    job_id, meta, corrected = _new_job(client_id, attempt_id, seq, frame, delay)
    try:
        recorder = _recorder()
        if not recorder.redis_server_version:
            recorder.get_redis_server_version()
        job_writes = _job_writes(recorder)
        replicas = settings.REDIS_WAIT_REPLICAS
        if replicas:
            with connection.pipeline(transaction=False) as pipe:
                _run_script(pipe, job_writes, meta, job_id, frame, priority, corrected)
                pipe.wait(replicas, _wait_milliseconds())
                answer, confirmed = pipe.execute()
            _check_admission(answer)
            _check_replicated(confirmed)
        else:
            _check_admission(_run_script(connection, job_writes, meta, job_id, frame, priority, corrected))
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    return job_id


async def aprepare() -> None:
    """Readies this process's enqueue path before a client's first frame: Redis's version, the
    enqueue script, and one more connection in the pool when clients connect at once, so that
    the pool grows as clients connect rather than on their first frames.

    Raises:
        QueueUnavailable: Redis cannot be reached.
    """
    connection = get_async_redis()
    try:
        recorder = await _arecorder(connection)
        await connection.ping()
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    _job_writes(recorder)


async def aenqueue_frame(
    client_id: str, attempt_id: str, seq: int, frame: Frame, *, priority: bool = False
) -> Enqueued:
    """`enqueue_frame` on the event loop's asyncio client: the same script, no thread; also
    says how long the queue was, for the gateway's throttling."""
    connection = get_async_redis()
    job_id, meta, corrected = _new_job(client_id, attempt_id, seq, frame)
    try:
        job_writes = _job_writes(await _arecorder(connection))
        replicas = settings.REDIS_WAIT_REPLICAS
        if replicas:
            async with connection.pipeline(transaction=False) as pipe:
                await _run_script(pipe, job_writes, meta, job_id, frame, priority, corrected)
                pipe.wait(replicas, _wait_milliseconds())
                answer, confirmed = await pipe.execute()
        else:
            answer = await _run_script(connection, job_writes, meta, job_id, frame, priority, corrected)
        queued = _check_admission(answer)
        if replicas:
            _check_replicated(confirmed)
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    hint = answer[4].decode() if isinstance(answer[4], bytes) else None
    replaced = answer[5].decode() if isinstance(answer[5], bytes) else None
    return Enqueued(
        job_id,
        queued,
        paused=bool(answer[2]),
        priority=bool(answer[3]),
        hint=hint,
        replaced=replaced,
        refusals=int(answer[6]),
    )


async def _arecorder(connection: redis.asyncio.Redis) -> Queue:
    recorder = _recorder()
    if not recorder.redis_server_version:
        info = await connection.info("server")
        recorder.redis_server_version = _parse_version(str(info["redis_version"]))
    return recorder


def _new_job(
    client_id: str, attempt_id: str, seq: int, frame: Frame, delay: float = 0
) -> tuple[str, FrameMeta, bool]:
    """A new job's id and its frame's metadata, stamped with the server's clock; and whether
    the client's capture time was replaced by it (`proctoring.core.clock`)."""
    if not 0 <= delay <= policy.MAX_DELAY:
        raise ValueError(f"delay must be between 0 and {policy.MAX_DELAY} seconds, got {delay!r}")
    received_at = datetime.now(UTC)
    captured_at, corrected = clock.evidence_time(frame.captured_at, received_at)
    meta = FrameMeta(
        client_id=client_id,
        attempt_id=attempt_id,
        seq=seq,
        captured_at=captured_at,
        received_at=received_at,
        content_type=frame.content_type,
        delay=delay,
        clock_corrected=corrected,
    )
    return uuid.uuid4().hex, meta, corrected


def _run_script(
    client: redis.Redis | redis.asyncio.Redis,
    job_writes: str,
    meta: FrameMeta,
    job_id: str,
    frame: Frame,
    priority: bool,
    clock_corrected: bool,
) -> Any:
    """The enqueue script for this frame on `client` (an awaitable on an asyncio client; queued
    on a pipeline)."""
    client_id = meta.client_id
    received_at = meta.received_at.timestamp()
    # RQ's scheduler reads due times in whole seconds: round to the nearest.
    due = int(received_at + meta.delay + 0.5) if meta.delay else 0
    return scripts.enqueue(
        client,
        job_writes=job_writes,
        pending=keys.client_pending(client_id),
        queue=_QUEUE_KEY,
        frame=keys.frame(job_id),
        counts=keys.client_counts(client_id),
        clients=keys.clients_index(),
        minute=counters.minute_key(received_at),
        suspended=WORKERS_SUSPENDED,
        totals=keys.totals(),
        priority_window=keys.client_priority(client_id),
        scheduled=_SCHEDULED_KEY,
        hint=keys.client_hint(client_id),
        backlogged_ring=keys.clients_ring_backlogged(),
        waiting=keys.client_waiting(client_id),
        sparse_ring=keys.clients_ring_sparse(),
        hasty=keys.client_hasty(client_id),
        job=Job.key_for(job_id),
        failed_kinds=keys.FAILED_KINDS,
        refusals=keys.client_refusals(client_id),
        job_id=job_id,
        received_at=received_at,
        client_limit=settings.PROCTORING_MAX_PENDING_PER_CLIENT,
        queue_limit=settings.PROCTORING_MAX_QUEUED,
        envelope=pack_frame(meta, frame.data),
        frame_ttl=policy.frame_key_ttl(),
        stamp=utcformat(meta.received_at),
        description=_description(meta),
        client_id=client_id,
        counts_ttl=counters.COUNTS_TTL,
        minute_ttl=counters.MINUTE_TTL,
        want_priority=priority,
        due=due,
        coalesce=settings.PROCTORING_COALESCE == "latest",
        priority_scan=fairness.PRIORITY_SCAN,
        sparse_backlog=fairness.SPARSE_BACKLOG,
        hasty_seconds=fairness.HASTY_SECONDS,
        job_template=rq_internals.JOB_TEMPLATE,
        frame_template=keys.FRAME_TEMPLATE,
        waiting_template=keys.WAITING_TEMPLATE,
        counts_template=keys.COUNTS_TEMPLATE,
        failed_template=keys.FAILED_TEMPLATE,
        kind_template=keys.KIND_TEMPLATE,
        seq=meta.seq,
        clock_corrected=clock_corrected,
        refuse_after=settings.PROCTORING_REFUSALS_TO_BLOCK,
    )


_QUEUE_KEY = Queue.redis_queue_namespace_prefix + policy.QUEUE_NAME
_SCHEDULED_KEY = ScheduledJobRegistry.key_template.format(policy.QUEUE_NAME)


def _check_admission(answer: list[int]) -> int:
    """The queue's length if the frame was admitted; otherwise the refusal."""
    verdict, queued = int(answer[0]), int(answer[1])
    if verdict == -2:
        seconds = max(1, -(-queued // 1000))  # the cooldown's milliseconds left, rounded up
        raise FramesRefused(
            f"the proctoring service refused this camera's last {settings.PROCTORING_REFUSALS_TO_BLOCK} "
            f"frames; frames are not taken for {seconds} s (check the camera sends real pictures)"
        )
    if verdict == -1:
        raise QueueFull(f"{queued} frames are waiting for the proctoring service; slow down")
    if verdict == 0:
        raise RateLimited(
            f"{settings.PROCTORING_MAX_PENDING_PER_CLIENT} frames are already waiting; wait for acks"
        )
    return queued


def _wait_milliseconds() -> int:
    return max(1, round(settings.REDIS_WAIT_TIMEOUT * 1000))


def _check_replicated(confirmed: int) -> None:
    """An admitted frame the primary could lose with it (`REDIS_WAIT_REPLICAS` not reached in
    time) is not acked: the client is told `unavailable` and sends a newer one. The frame stays
    queued, and is delivered unless the primary is lost."""
    wanted = settings.REDIS_WAIT_REPLICAS
    if int(confirmed) < wanted:
        raise QueueUnavailable(
            f"queue unavailable: {confirmed} of {wanted} Redis replicas confirmed the frame in time"
        )


def _recorder() -> Queue:
    """A `proctoring` queue whose pipelines are only recorded, never executed (one per Redis URL)."""
    key = id(get_redis())
    queue = _recorders.get(key)
    if queue is None:
        with _recorder_lock:
            queue = _recorders.setdefault(key, policy.get_queue())
    return queue


def _template_key(queue: Queue) -> tuple[Any, ...]:
    """Everything the frame job's recorded writes depend on."""
    return (
        job_template.queue_fingerprint(queue),
        policy.job_timeout(),
        settings.PROCTORING_JOB_ATTEMPTS,
        settings.PROCTORING_BACKOFF_SECONDS,
        settings.PROCTORING_FAILED_TTL,
    )


def _template(queue: Queue) -> job_template.JobTemplate:
    def record(marker_id: str) -> list[job_template.Command]:
        now = datetime.now(UTC)
        probe = FrameMeta(
            client_id="", attempt_id="", seq=0, captured_at=now, received_at=now, content_type=""
        )
        return [command for command, _ in _job_commands(probe, marker_id, queue)]

    return job_template.cached(_template_key(queue), record)


_job_writes_lock = threading.Lock()
_job_writes_lua: dict[tuple[Any, ...], str] = {}


def _job_writes(queue: Queue) -> str:
    """RQ's writes for a frame job of the current configuration, as the Lua that fills the enqueue
    script's `job_writes` part (made once per configuration)."""
    key = _template_key(queue)
    lua = _job_writes_lua.get(key)
    if lua is None:
        lua = _template(queue).lua(
            "job_id",
            "stamp",
            "description",
            push="push()",
            named={Job.key_for(job_template.MARKER): "job_key"},
        )
        with _job_writes_lock:
            lua = _job_writes_lua.setdefault(key, lua)
    return lua


def _description(meta: FrameMeta) -> str:
    # Short and fixed: RQ would otherwise repr() the arguments for it.
    return f"frame {meta.client_id}#{meta.seq}"


def _job_commands(meta: FrameMeta, job_id: str, queue: Queue) -> Sequence[Command]:
    """The writes RQ makes to enqueue this frame's job, recorded instead of executed."""
    # No arguments and no meta: everything about the frame is in its stored envelope. Every
    # field of the job hash then stays under Redis's 64-byte listpack limit, so the hash is
    # stored compactly (a listpack) rather than as a hash table.
    job = queue.create_job(
        policy.FRAME_JOB,
        job_id=job_id,
        description=_description(meta),
        timeout=policy.job_timeout(),
        result_ttl=0,  # a delivered frame leaves nothing behind
        failure_ttl=settings.PROCTORING_FAILED_TTL,
        retry=policy.retry_policy(),
        on_failure=Callback(policy.FAILURE_CALLBACK),
    )
    if not queue.redis_server_version:
        queue.get_redis_server_version()
    recording = queue.connection.pipeline(transaction=False)
    queue.enqueue_job(job, pipeline=recording)
    commands: list[Command] = [_without_empty_fields(command) for command in recording.command_stack]
    recording.reset()
    return commands


def _without_empty_fields(command: Command) -> Command:
    """An HSET without its empty fields: RQ writes a dozen empty ones per new job (ended_at,
    worker_name…), reads a missing field exactly as an empty one, and each costs memory."""
    args, options = command
    if args[0] != "HSET" or len(args) < 4:
        return command
    pairs = [
        (field, value) for field, value in zip(args[2::2], args[3::2], strict=True) if value not in ("", b"")
    ]
    flat = [item for pair in pairs for item in pair]
    return (args[0], args[1], *flat), options


def _parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(part) for part in text.split(".")[:3]] + [0, 0, 0]
    return parts[0], parts[1], parts[2]
