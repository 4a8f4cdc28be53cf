"""A worker's own counts of its frame jobs by outcome, in its hash (`keys.WORKER_*`, read by
`proctoring.ops.stats`): delivered, dropped unsent (expired), failed for good. A batched
success is counted in its batch (`successes.Finisher`); these are the other paths."""

from __future__ import annotations

from typing import Any

from rq.job import Job, JobStatus

from proctoring.queue import freshness, policy, summed
from proctoring.store import keys
from proctoring.worker import job_context, successes


def write_success(connection: Any, worker_key: str, job: Job, writes: list[job_context.Write]) -> None:
    """A success recorded outside a batch, before RQ's own success handling: the job's deferred
    writes (`job_context.defer_on_success`) and, for a frame job, its count as delivered or
    dropped, in one round trip. Counted with the writes that count the frame completed, so a
    failure of RQ's handling after them leaves the two counts agreeing."""
    is_frame = job.func_name == policy.FRAME_JOB
    if not writes and not is_frame:
        return
    with connection.pipeline(transaction=False) as pipe:
        with freshness.tallied(pipe), summed.summed(pipe):
            for write in writes:
                write(pipe)
        if is_frame:
            delivered = successes.delivered_something(writes)
            pipe.hincrby(worker_key, keys.WORKER_DELIVERED if delivered else keys.WORKER_DROPPED, 1)
        pipe.execute()


def count_if_failed_for_good(connection: Any, worker_key: str, job: Job) -> None:
    """RQ counts every failed attempt (failed_job_count); a frame job that is now in the failed
    registry, no retry left, is also counted as failed for good."""
    if job.func_name == policy.FRAME_JOB and job.get_status(refresh=False) == JobStatus.FAILED:
        connection.hincrby(worker_key, keys.WORKER_FAILED_FOR_GOOD, 1)
