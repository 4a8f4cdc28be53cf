"""The one place that enqueues frames: queue name, timeout, retry policy and per-client admission."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import UTC, datetime

import django_rq
import redis
from django.conf import settings
from rq import Callback, Queue, Retry
from rq.job import Job

from proctoring import keys
from proctoring.connections import get_redis
from proctoring.exceptions import QueueUnavailable, RateLimited
from proctoring.frames import Frame, FrameMeta

log = logging.getLogger(__name__)

QUEUE_NAME = "proctoring"

# Admit a job id into a client's pending set unless the set is full; atomic, one round trip.
# When full, ids whose job is gone (deleted, expired) or already over (failed, finished,
# stopped, canceled: e.g. a job whose worker died, later failed by RQ's cleanup without our
# callback) are dropped first, so a slot that was never released cannot block a client.
_ADMIT = """
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= limit then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local status = redis.call('HGET', ARGV[4] .. id, 'status')
    if not status or status == 'failed' or status == 'finished' or status == 'stopped'
        or status == 'canceled' then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""


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


def enqueue_frame(client_id: str, attempt_id: str, seq: int, frame: Frame) -> str:
    """Queues one frame for the API and returns its job id (also the API's idempotency key).

    Raises:
        RateLimited: the client already has `PROCTORING_MAX_PENDING_PER_CLIENT` frames pending.
        QueueUnavailable: Redis did not confirm the job; nothing is queued.
    """
    from proctoring.jobs import forward_frame_job, on_forward_failure

    received_at = datetime.now(UTC)
    job_id = uuid.uuid4().hex
    connection = get_redis()
    pending = keys.client_pending(client_id)
    try:
        admitted = connection.eval(
            _ADMIT,
            1,
            pending,
            job_id,
            received_at.timestamp(),
            settings.PROCTORING_MAX_PENDING_PER_CLIENT,
            Job.key_for(""),
        )
    except redis.RedisError as exc:
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    if not admitted:
        raise RateLimited(
            f"{settings.PROCTORING_MAX_PENDING_PER_CLIENT} frames are already waiting; wait for acks"
        )
    meta = FrameMeta(
        client_id=client_id,
        attempt_id=attempt_id,
        seq=seq,
        captured_at=frame.captured_at or received_at,
        received_at=received_at,
        content_type=frame.content_type,
    )
    try:
        get_queue().enqueue_call(
            forward_frame_job,
            args=(meta, frame.data),
            job_id=job_id,
            # Short, fixed description: RQ would otherwise repr() the frame bytes for it.
            description=f"frame {client_id}#{seq}",
            timeout=job_timeout(),
            result_ttl=0,  # a delivered frame leaves nothing behind
            failure_ttl=settings.PROCTORING_FAILED_TTL,
            retry=retry_policy(),
            on_failure=Callback(on_forward_failure),
            meta={"client_id": client_id, "attempt_id": attempt_id, "seq": seq},
        )
    except redis.RedisError as exc:
        try:
            release(client_id, job_id)
        except redis.RedisError:
            log.warning(
                "could not release job %s of client %s; the next admission drops it", job_id, client_id
            )
        raise QueueUnavailable(f"queue unavailable: {exc}") from exc
    return job_id


def release(client_id: str, job_id: str) -> None:
    """Frees the job's place in its client's pending set; safe to call more than once."""
    get_redis().zrem(keys.client_pending(client_id), job_id)


def pending_count(client_id: str) -> int:
    count: int = get_redis().zcard(keys.client_pending(client_id))
    return count
