"""Acting on failed frame jobs: retry (same job id, so the API sees the same idempotency key)
and delete, keeping the per-client counts, pending sets and failed images' byte counts right.
The admin's actions and commands call these; django-rq's own requeue also works, and the
counts catch up with it when the worker takes the job.
"""

from __future__ import annotations

import logging

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from proctoring.queue import counters, failed_images, lateness, policy
from proctoring.store import keys
from proctoring.store.connections import get_redis

log = logging.getLogger(__name__)


def retry(job_id: str) -> bool:
    """Puts failed job `job_id` back on the queue with a fresh set of retries; False if it is
    not in the failed registry (already retried, deleted or expired). The retry is an operator's
    decision: the frame is sent however old, marked late past its live window, never dropped at
    the backfill horizon (`lateness.classify`)."""
    queue = policy.get_queue()
    connection = queue.connection
    try:
        job = counters.FrameJob.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if not connection.zrem(FailedJobRegistry(queue=queue).key, job_id):
        return False
    retry = policy.retry_policy()
    job.retries_left = retry.max if retry else None
    job.started_at = job.ended_at = None
    job.meta[lateness.RETRIED] = int(job.meta.get(lateness.RETRIED, 0)) + 1
    with connection.pipeline() as pipe:
        # RQ's enqueue_job switches a caller's pipeline to MULTI itself, which fails once
        # commands are queued on it: switch first.
        pipe.multi()
        pipe.expire(keys.frame(job_id), policy.frame_key_ttl())
        # Queued again, its image (if kept) no longer counts against the failed frames' caps.
        failed_images.settle(pipe, job_id, counters.client_of(job) or "", failed_images.FORGET)
        pipe.hincrby(keys.totals(), lateness.RETRIED, 1)
        # Our queue class moves the counts and gives the frame its pending slot back.
        queue.enqueue_job(job, pipeline=pipe)
        pipe.execute()
    log.info("failed job %s retried (client %s)", job_id, counters.client_of(job))
    return True


def delete(job_id: str) -> bool:
    """Deletes failed job `job_id` and its frame; False if it is not a failed job."""
    connection = get_redis()
    queue = policy.get_queue()
    if connection.zscore(FailedJobRegistry(queue=queue).key, job_id) is None:
        return False
    with connection.pipeline() as pipe:
        counters.move(job_id, counters.DONE, pipeline=pipe, connection=connection)
        failed_images.settle(pipe, job_id, "", failed_images.FORGET)
        pipe.delete(keys.frame(job_id))
        pipe.execute()
    try:
        Job.fetch(job_id, connection=connection).delete()
    except NoSuchJobError:
        connection.zrem(FailedJobRegistry(queue=queue).key, job_id)
    log.info("failed job %s deleted", job_id)
    return True
