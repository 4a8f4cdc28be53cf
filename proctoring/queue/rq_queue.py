"""The queue class of the `proctoring` queue (`RQ_QUEUES`' QUEUE_CLASS): RQ's, with retry times
rounded to the nearest second, and the per-client counts (`proctoring.queue.counters`) and fair
order's waiting lists (`proctoring.queue.fairness`) kept wherever RQ moves a frame job back to
the queue."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from proctoring.queue import counters, fairness, policy
from proctoring.store import keys
from proctoring.store.rq_internals import QueueBase

_COMING_BACK = {JobStatus.SCHEDULED, JobStatus.FAILED, JobStatus.STARTED, JobStatus.STOPPED}


class ProctoringQueue(QueueBase):
    """RQ's queue, rounding retry times to the nearest second and keeping the per-client
    counts (`proctoring.queue.counters`) of frame jobs that RQ moves: to waiting-to-retry, and back
    to the queue (a retry that is due, or a failed job requeued)."""

    def schedule_job(self, job: Job, datetime: datetime, pipeline: Any = None, unique: bool = False) -> Job:
        # RQ truncates to whole seconds; adding half a second makes that a rounding to nearest.
        scheduled: Job = super().schedule_job(job, datetime + timedelta(seconds=0.5), pipeline, unique)
        if job.func_name == policy.FRAME_JOB:
            counters.move(job.id, counters.RETRYING, pipeline=pipeline, connection=self.connection)
        return scheduled

    def job_enqueued(
        self, job: Job, status_before: JobStatus | None, pipeline: Any = None, at_front: bool = False
    ) -> None:
        # A new job is counted by the enqueue script; only a job coming back (a retry that is
        # due, a failed job requeued) moves here.
        client_id = counters.client_of(job) if status_before in _COMING_BACK else None
        if client_id is not None:
            target = pipeline if pipeline is not None else self.connection
            counters.move(job.id, counters.QUEUED, pipeline=pipeline, connection=self.connection)
            # A failed job requeued takes a pending slot again (NX: a retry keeps its own).
            target.zadd(keys.client_pending(client_id), {job.id: time.time()}, nx=True)
            target.expire(keys.client_pending(client_id), counters.COUNTS_TTL)
            # And waits its client's turn in fair order.
            fairness.join(self.connection, client_id, job.id, at_front=at_front, pipeline=pipeline)


class ProctoringStartedJobRegistry(StartedJobRegistry):
    """RQ's started registry, whose cleanup retries abandoned jobs through our queue class (so
    that their per-client counts move with them)."""

    def get_queue(self) -> ProctoringQueue:
        return ProctoringQueue(self.name, connection=self.connection, serializer=self.serializer)
