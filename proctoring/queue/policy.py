"""The `proctoring` queue and its job policy: the queue's name and class, the dotted paths every
frame job names, how long a job may run, its retries and how long its records are kept."""

from __future__ import annotations

import math

import django_rq
from django.conf import settings
from rq import Queue, Retry

from proctoring.store.connections import get_redis

QUEUE_NAME = "proctoring"
# Every frame job names these, so they stay importable for as long as such a job may exist
# (`proctoring/jobs.py`); the code behind them is `proctoring.worker.delivery`'s.
FRAME_JOB = "proctoring.jobs.forward_frame_job"
FAILURE_CALLBACK = "proctoring.jobs.on_forward_failure"
# A frame key outlives its job's longest possible life as a failed job, so that no frame key is
# left behind for ever if its job is deleted by hand.
_FRAME_KEY_GRACE = 24 * 3600

MAX_DELAY = 24 * 3600  # seconds a frame may be held back on purpose


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
