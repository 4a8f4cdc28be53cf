"""The one place that enqueues frames: queue name, timeout, retry policy, per-client admission,
and where a frame's bytes live while its job waits.

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
import math
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import django_rq
import redis
from django.conf import settings
from rq import Callback, Queue, Retry
from rq.job import Job

from proctoring import job_template, keys, lifecycle
from proctoring.connections import get_async_redis, get_redis
from proctoring.exceptions import QueueFull, QueueUnavailable, RateLimited
from proctoring.frames import HEADER_MAX_BYTES, Frame, FrameMeta, pack_frame, unpack_frame, unpack_header

log = logging.getLogger(__name__)

QUEUE_NAME = "proctoring"
# A frame key outlives its job's longest possible life as a failed job, so that no frame key is
# left behind for ever if its job is deleted by hand.
_FRAME_KEY_GRACE = 24 * 3600

# Admit a job id into a client's pending set unless the set is full, or the whole queue is
# (PROCTORING_MAX_QUEUED waiting jobs); if admitted, run the enqueue's writes, passed as
# ARGV[6..] in groups of (count, command, args...). Returns {verdict, queue length}:
# 1 admitted and queued, 0 client full, -1 queue full (nothing written for 0 and -1).
# When the client's set is full, ids whose job is gone (deleted, expired) or already over
# (failed, finished, stopped, canceled: e.g. a job whose worker died, later failed by RQ's
# cleanup without our callback) are dropped first, so a slot that was never released cannot
# block a client.
_ENQUEUE = """
local queued = redis.call('LLEN', KEYS[2])
if queued >= tonumber(ARGV[5]) then return {-1, queued} end
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= limit then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local status = redis.call('HGET', ARGV[4] .. id, 'status')
    if not status or status == 'failed' or status == 'finished' or status == 'stopped'
        or status == 'canceled' then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then return {0, queued} end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local i = 6
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return {1, queued}
"""


class Enqueued(NamedTuple):
    job_id: str
    queued: int  # frames waiting in the queue (all clients) before this one


Command = tuple[tuple[Any, ...], dict[str, Any]]
_recorder_lock = threading.Lock()
_recorders: dict[int, Queue] = {}


def get_queue() -> Queue:
    """The `proctoring` queue on the shared client; enqueues go to Redis at once, never on DB commit."""
    queue: Queue = django_rq.get_queue(QUEUE_NAME, connection=get_redis(), commit_mode="auto")
    return queue


def retry_policy() -> Retry | None:
    """`PROCTORING_JOB_ATTEMPTS` attempts in all, waiting backoff × 2^(n-1) before retry n."""
    retries = settings.PROCTORING_JOB_ATTEMPTS - 1
    if retries < 1:
        return None
    backoff = settings.PROCTORING_BACKOFF_SECONDS
    return Retry(max=retries, interval=[backoff * 2**n for n in range(retries)])


def job_timeout() -> int:
    """Seconds a job may run: the API's timeout plus time to store its answer."""
    return math.ceil(settings.PROCTORING_API_TIMEOUT) + 30


def frame_key_ttl() -> int:
    return settings.PROCTORING_FAILED_TTL + _FRAME_KEY_GRACE


def enqueue_frame(client_id: str, attempt_id: str, seq: int, frame: Frame) -> str:
    """Queues one frame for the API and returns its job id (also the API's idempotency key).

    Raises:
        RateLimited: the client already has `PROCTORING_MAX_PENDING_PER_CLIENT` frames pending.
        QueueFull: `PROCTORING_MAX_QUEUED` frames are waiting already.
        QueueUnavailable: Redis did not confirm the job; nothing is queued.
    """
    connection = get_redis()
    job_id, meta = _new_job(client_id, attempt_id, seq, frame)
    args = _enqueue_args(meta, job_id, frame, _recorder())
    try:
        _check_admission(connection.eval(_ENQUEUE, 2, *args))
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    return job_id


async def aprepare() -> None:
    """Readies this process's enqueue path before a client's first frame: Redis's version, the
    job template, and one more connection in the pool when clients connect at once, so that
    the pool grows as clients connect rather than on their first frames.

    Raises:
        QueueUnavailable: Redis cannot be reached.
    """
    connection = get_async_redis()
    recorder = _recorder()
    try:
        if recorder.redis_server_version:
            await connection.ping()
        else:
            info = await connection.info("server")
            recorder.redis_server_version = _parse_version(str(info["redis_version"]))
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    now = datetime.now(UTC)
    probe = FrameMeta(client_id="", attempt_id="", seq=0, captured_at=now, received_at=now, content_type="")
    _job_writes(probe, job_template.MARKER, recorder)


async def aenqueue_frame(client_id: str, attempt_id: str, seq: int, frame: Frame) -> Enqueued:
    """`enqueue_frame` on the event loop's asyncio client: the same script, no thread; also
    says how long the queue was, for the gateway's throttling."""
    connection = get_async_redis()
    job_id, meta = _new_job(client_id, attempt_id, seq, frame)
    try:
        recorder = _recorder()
        if not recorder.redis_server_version:
            info = await connection.info("server")
            recorder.redis_server_version = _parse_version(str(info["redis_version"]))
        args = _enqueue_args(meta, job_id, frame, recorder)
        queued = _check_admission(await connection.eval(_ENQUEUE, 2, *args))
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    return Enqueued(job_id, queued)


def finish_delivered(client_id: str, job_id: str) -> None:
    """A delivered frame: its bytes go, its client's slot is free (with the job's own success
    bookkeeping, in one batch, when a batching worker runs the job)."""
    commands = [("DEL", keys.frame(job_id)), ("ZREM", keys.client_pending(client_id), job_id)]
    if lifecycle.defer_on_success(commands):
        return
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.delete(keys.frame(job_id))
        pipe.zrem(keys.client_pending(client_id), job_id)
        pipe.execute()


def drop_stale(client_id: str, job_id: str) -> None:
    """A frame too old to be worth sending: its bytes go, its slot is free, and it is counted."""
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.delete(keys.frame(job_id))
        pipe.zrem(keys.client_pending(client_id), job_id)
        pipe.incr(keys.stale_count())
        pipe.execute()


def stale_count() -> int:
    return int(get_redis().get(keys.stale_count()) or 0)


def finish_failed(client_id: str, job_id: str) -> None:
    """A finally failed frame: its bytes stay as long as its failed job, its client's slot is free."""
    with get_redis().pipeline(transaction=False) as pipe:
        pipe.expire(keys.frame(job_id), settings.PROCTORING_FAILED_TTL)
        pipe.zrem(keys.client_pending(client_id), job_id)
        pipe.execute()


def load_frame(job_id: str) -> tuple[FrameMeta, bytes] | None:
    """A queued frame's metadata and image bytes, or None when they are gone."""
    envelope = lifecycle.prefetched_envelope(job_id) or get_redis().get(keys.frame(job_id))
    if envelope is None:
        return None
    assert isinstance(envelope, bytes)  # the client does not decode responses
    return unpack_frame(envelope)


def load_frame_meta(job_id: str) -> FrameMeta | None:
    """A queued frame's metadata alone, without reading its image."""
    head = get_redis().getrange(keys.frame(job_id), 0, HEADER_MAX_BYTES + 8)
    if not head:
        return None
    assert isinstance(head, bytes)
    return unpack_header(head)[0]


def _new_job(client_id: str, attempt_id: str, seq: int, frame: Frame) -> tuple[str, FrameMeta]:
    received_at = datetime.now(UTC)
    meta = FrameMeta(
        client_id=client_id,
        attempt_id=attempt_id,
        seq=seq,
        captured_at=frame.captured_at or received_at,
        received_at=received_at,
        content_type=frame.content_type,
    )
    return uuid.uuid4().hex, meta


def _enqueue_args(meta: FrameMeta, job_id: str, frame: Frame, recorder: Queue) -> list[Any]:
    """KEYS and ARGV of the enqueue script: admission, then the writes to run once admitted."""
    args: list[Any] = [
        keys.client_pending(meta.client_id),
        Queue.redis_queue_namespace_prefix + QUEUE_NAME,
        job_id,
        meta.received_at.timestamp(),
        settings.PROCTORING_MAX_PENDING_PER_CLIENT,
        Job.key_for(""),
        settings.PROCTORING_MAX_QUEUED,
    ]
    writes: list[tuple[Any, ...]] = [
        ("SET", keys.frame(job_id), pack_frame(meta, frame.data), "EX", frame_key_ttl()),
        *_job_writes(meta, job_id, recorder),
    ]
    for command in writes:
        args.append(len(command))
        args.extend(command)
    return args


def _check_admission(answer: list[int]) -> int:
    """The queue's length if the frame was admitted; otherwise the refusal."""
    verdict, queued = int(answer[0]), int(answer[1])
    if verdict == -1:
        raise QueueFull(f"{queued} frames are waiting for the proctoring service; slow down")
    if verdict == 0:
        raise RateLimited(
            f"{settings.PROCTORING_MAX_PENDING_PER_CLIENT} frames are already waiting; wait for acks"
        )
    return queued


def _recorder() -> Queue:
    """A `proctoring` queue whose pipelines are only recorded, never executed (one per Redis URL)."""
    key = id(get_redis())
    queue = _recorders.get(key)
    if queue is None:
        with _recorder_lock:
            queue = _recorders.setdefault(key, get_queue())
    return queue


def _job_writes(meta: FrameMeta, job_id: str, queue: Queue) -> list[job_template.Command]:
    """`_job_commands` for this frame, from a template recorded once per configuration."""
    if not queue.redis_server_version:
        queue.get_redis_server_version()
    key = (
        job_template.queue_fingerprint(queue),
        job_timeout(),
        settings.PROCTORING_JOB_ATTEMPTS,
        settings.PROCTORING_BACKOFF_SECONDS,
        settings.PROCTORING_FAILED_TTL,
    )

    def record(marker_id: str) -> list[job_template.Command]:
        return [command for command, _ in _job_commands(meta, marker_id, queue)]

    template = job_template.cached(key, record)
    return template.commands(job_id, _description(meta), meta.received_at)


def _description(meta: FrameMeta) -> str:
    # Short and fixed: RQ would otherwise repr() the arguments for it.
    return f"frame {meta.client_id}#{meta.seq}"


def _job_commands(meta: FrameMeta, job_id: str, queue: Queue) -> Sequence[Command]:
    """The writes RQ makes to enqueue this frame's job, recorded instead of executed."""
    from proctoring.jobs import forward_frame_job, on_forward_failure

    # No arguments and no meta: everything about the frame is in its stored envelope. Every
    # field of the job hash then stays under Redis's 64-byte listpack limit, so the hash is
    # stored compactly (about 0.5 KB instead of 2 KB per queued frame).
    job = queue.create_job(
        forward_frame_job,
        job_id=job_id,
        description=_description(meta),
        timeout=job_timeout(),
        result_ttl=0,  # a delivered frame leaves nothing behind
        failure_ttl=settings.PROCTORING_FAILED_TTL,
        retry=retry_policy(),
        on_failure=Callback(on_forward_failure),
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
