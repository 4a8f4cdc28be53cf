"""The one door to RQ's and django-rq's private API (rq 3.0, django-rq 4.2).

Nothing else in `proctoring` touches an RQ or django-rq name that starts with `_`: what the
project needs of them comes through the functions, base classes and constants here, and
`tests/unit/store/test_rq_internals.py` names each one against the installed rq, which pyproject.toml
pins to the minor release that test proves. Relied on, and why:

Worker (`rq.worker.base.BaseWorker`):
- `_finalize_success(job, queue, execution, return_value)`: RQ's whole success path (a `Retry`
  result, the success callback, `handle_job_success`, webhooks) for the jobs our batching does
  not record itself; the public `handle_job_success` is only part of it, and `perform_job` would
  redo the start bookkeeping our take script has done.
- `_finalize_failure(job, queue, execution, exc_info)`: RQ's failure path (failure callback,
  exception handlers, `handle_job_failure` with its retries), for the same reason.
- `_state`: marks the worker busy in memory, which is what RQ's warm shutdown reads to wait for
  the jobs in flight rather than stop at once; `set_state` would add a Redis write to every take.

Scheduler (`rq.scheduler.RQScheduler`):
- `_process`: the scheduler's forked process, to see whether it still runs (RQ's own
  maintenance reads it the same way).
- `_connection`, `_pool_class`: the client the `connection` property caches, and the connection
  class it rebuilds one from, so that a scheduler under Sentinel gets a client it can use.
- `_status`, `_scheduled_job_registries`, `_acquired_locks`: state that the copy of
  `enqueue_scheduled_jobs` below keeps as RQ's does.

Queue (`rq.queue.Queue`, under django-rq's `DjangoRQ`):
- `_enqueue_job(job, pipeline, at_front, unique)`: the step every way of RQ's back to the queue
  goes through (a due retry, a requeued failed job, an abandoned job retried); `QueueBase` turns
  it into the `job_enqueued` hook.
- `_enqueue_rate_limited_job(job, pipeline, at_front)`: in the copy of `enqueue_scheduled_jobs`.

Job and Execution:
- `Job._dependency_ids`: whether a job waits on others, read from the job in hand (the public
  `dependency_ids` reads Redis).
- `Execution._job`: the job an execution runs, set from the job in hand (the public `job`
  property fetches it again).

Copied from rq 3.0.0, because RQ hard-codes a class we replace: `start_scheduler`
(`BaseWorker._start_scheduler`, with our scheduler class) and `SchedulerBase.enqueue_scheduled_jobs`
(`RQScheduler.enqueue_scheduled_jobs`, with our queue class). Compare them with RQ's when the pin
moves.

RQ's key layouts for the executions our take script writes are derived here from RQ's own key
builders (`EXECUTION_KEY_PREFIX`, `EXECUTIONS_REGISTRY_KEY_PREFIX`, `worker_executions_key`).

A queue's scheduler lock (rq 3.0, `rq.scheduler`): `RQScheduler.get_locking_key(queue)` holds
the name of the scheduler that owns it, set with a TTL of the scheduler's `interval + 60` s
(61 s by default) and refreshed with every heartbeat, along with the scheduler's hash
(`RQScheduler.key`: its hostname and pid, under the same TTL). A lock's remaining TTL is thus
how long ago its holder last beat (`scheduler_lock`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import redis
from django_rq.queues import DjangoRQ
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.results import Result
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.utils import current_timestamp
from rq.worker import BaseWorker, WorkerStatus

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


# --- Worker -------------------------------------------------------------------------------------


def finalize_success(
    worker: BaseWorker, job: Job, queue: Queue, execution: Execution, return_value: Any
) -> None:
    """RQ's handling of a job that returned `return_value`: a `Retry`, the success callback,
    the result, dependents, webhooks and the worker's counts."""
    worker._finalize_success(job, queue, execution, return_value)


def finalize_failure(
    worker: BaseWorker, job: Job, queue: Queue, execution: Execution, exc_info: ExcInfo
) -> None:
    """RQ's handling of a job that raised: the failure callback, exception handlers, a retry or
    the failed registry, and the worker's counts."""
    worker._finalize_failure(job, queue, execution, exc_info)


def mark_busy(worker: BaseWorker) -> None:
    """The worker's state is busy, in this process only (no Redis write): a warm shutdown then
    waits for the jobs in flight. `worker.set_state(...)` ends it, and writes."""
    worker._state = WorkerStatus.BUSY


def start_scheduler(
    worker: BaseWorker,
    scheduler_class: type[RQScheduler],
    burst: bool = False,
    logging_level: str | None = "INFO",
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
    log_format: str = DEFAULT_LOGGING_FORMAT,
) -> None:
    """RQ's `BaseWorker._start_scheduler` (rq 3.0.0), with a scheduler class of our choosing:
    takes the queues' scheduler locks it can, and with them runs the scheduler in a process of
    its own (or, in burst mode, moves the due jobs once, here)."""
    worker.scheduler = scheduler_class(
        worker.queues,
        connection=worker.connection,
        logging_level=logging_level if logging_level is not None else worker.log.level,
        date_format=date_format,
        log_format=log_format,
        serializer=worker.serializer,
    )
    worker.scheduler.acquire_locks()
    if not worker.scheduler.acquired_locks:
        return
    if burst:
        try:
            worker.scheduler.register_birth()
            worker.scheduler.enqueue_scheduled_jobs()
        finally:
            worker.scheduler.release_locks()
            worker.scheduler.register_death()
    else:
        worker.scheduler.start()


def scheduler_process(scheduler: RQScheduler) -> Any:
    """The process a started scheduler runs in (a `multiprocessing` process), or None."""
    return scheduler._process


# --- Scheduler ----------------------------------------------------------------------------------


class SchedulerBase(RQScheduler):
    """RQ's scheduler with three public-named hooks: `queue_class`, the class due jobs are put
    back on the queue with, `job_class`, the class they are fetched as, and `own_connection`, a
    client of our making for its process."""

    queue_class: type[Queue] = Queue
    job_class: type[Job] = Job

    def own_connection(self, pool_connection_class: type) -> redis.Redis | None:
        """A client for this scheduler to use instead of the one RQ rebuilds from the worker's
        pool (`pool_connection_class`: that pool's connection class); None: RQ's."""
        return None

    @property
    def connection(self) -> redis.Redis:
        if self._connection is None:
            self._connection = self.own_connection(self._pool_class)  # type: ignore[assignment]
        connection: redis.Redis = RQScheduler.connection.fget(self)  # type: ignore[attr-defined]
        return connection

    def enqueue_scheduled_jobs(self) -> None:
        """RQ's `RQScheduler.enqueue_scheduled_jobs` (rq 3.0.0), putting due jobs back with
        `queue_class` and `job_class` instead of RQ's `Queue` and `Job`."""
        self._status = self.Status.WORKING
        if not self._scheduled_job_registries and self._acquired_locks:
            self.prepare_registries()
        for registry in self._scheduled_job_registries:
            job_ids = registry.get_jobs_to_schedule(current_timestamp())
            if not job_ids:
                continue
            queue = self.queue_class(registry.name, connection=self.connection, serializer=self.serializer)
            jobs = self.job_class.fetch_many(job_ids, connection=self.connection, serializer=self.serializer)
            normal_jobs = []
            jobs_with_rate_limit = []
            missing_job_ids = []
            for job_id, job in zip(job_ids, jobs, strict=True):
                if job is None:
                    missing_job_ids.append(job_id)
                elif job.has_rate_limit:
                    jobs_with_rate_limit.append(job)
                else:
                    normal_jobs.append(job)
            if normal_jobs or missing_job_ids:
                with self.connection.pipeline() as pipeline:
                    for job in normal_jobs:
                        queue._enqueue_job(job, pipeline=pipeline, at_front=job.should_enqueue_at_front())
                        registry.remove(job.id, pipeline=pipeline)
                    for job_id in missing_job_ids:
                        registry.remove(job_id, pipeline=pipeline)
                    pipeline.execute()
            for job in jobs_with_rate_limit:
                with self.connection.pipeline() as pipeline:
                    registry.remove(job.id, pipeline=pipeline)
                    queue._enqueue_rate_limited_job(
                        job, pipeline=pipeline, at_front=job.should_enqueue_at_front()
                    )
                    pipeline.execute()
        self._status = self.Status.STARTED


@dataclass(frozen=True)
class SchedulerLock:
    """Who holds a queue's scheduler lock: its `holder`'s name, how long ago it last refreshed
    the lock (`silent_for`, seconds, by Redis's clock), and where the holder runs, from its hash
    (`hostname` and `pid`; None when the hash is gone: it expired or its death was recorded)."""

    holder: str
    silent_for: float
    hostname: str | None
    pid: int | None


# What RQ's scheduler sets its lock's TTL to: `interval + 60`, with RQ's default interval (ours
# too). A holder with a longer interval looks more recently heard from than it was, never less.
SCHEDULER_LOCK_TTL: int = inspect.signature(RQScheduler).parameters["interval"].default + 60


def scheduler_lock(connection: redis.Redis, queue_name: str) -> SchedulerLock | None:
    """The holder of `queue_name`'s scheduler lock, or None when the lock is free."""
    lock_key = RQScheduler.get_locking_key(queue_name)
    with connection.pipeline(transaction=True) as pipe:
        pipe.get(lock_key)
        pipe.pttl(lock_key)
        holder, ttl_ms = pipe.execute()
    if holder is None or ttl_ms < 0:
        return None
    name = _text(holder)
    hostname, pid = connection.hmget(SCHEDULER_KEY_TEMPLATE % name, ["hostname", "pid"])
    return SchedulerLock(
        holder=name,
        silent_for=max(0.0, SCHEDULER_LOCK_TTL - ttl_ms / 1000),
        hostname=_text(hostname) if hostname is not None else None,
        pid=int(pid) if pid is not None else None,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def release_scheduler_lock(connection: redis.Redis, queue_name: str, holder: str) -> bool:
    """Frees `queue_name`'s scheduler lock if `holder` still holds it (RQ's atomic release)."""
    return release_lock(connection, RQScheduler.get_locking_key(queue_name), holder)


# --- Queue --------------------------------------------------------------------------------------


class QueueBase(DjangoRQ):
    """django-rq's queue, calling `job_enqueued` each time RQ puts a job on the queue by its
    own means (a due retry, a requeued failed job, an abandoned job retried, a plain enqueue)."""

    def job_enqueued(
        self, job: Job, status_before: JobStatus | None, pipeline: Any = None, at_front: bool = False
    ) -> None:
        """Called once `job` is on the queue (or queued on `pipeline` to be); `status_before`:
        its status until then (e.g. `scheduled` for a retry, `failed` for a requeue)."""

    def _enqueue_job(
        self, job: Job, pipeline: Any = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        status_before = job.get_status(refresh=False)
        enqueued: Job = super()._enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)
        self.job_enqueued(job, status_before, pipeline=pipeline, at_front=at_front)
        return enqueued


# --- Job and Execution --------------------------------------------------------------------------


def has_dependencies(job: Job) -> bool:
    """Whether `job` was enqueued to wait on other jobs (no Redis read)."""
    return bool(job._dependency_ids)


def set_execution_job(execution: Execution, job: Job) -> None:
    """Gives `execution` the job it runs, so that RQ's code does not fetch it again."""
    execution._job = job


# --- Key layouts --------------------------------------------------------------------------------


def _prefix(key: str, placeholder: str) -> str:
    head, sep, _ = key.partition(placeholder)
    if not sep:
        raise RuntimeError(f"unexpected RQ key layout: {key!r}")
    return head


# An execution's hash and a job's executions registry: these prefixes, then the job id.
EXECUTION_KEY_PREFIX = _prefix(Execution(id="EXEC", job_id="JOB", connection=None).key, "JOB")  # type: ignore[arg-type]
EXECUTIONS_REGISTRY_KEY_PREFIX = _prefix(ExecutionRegistry.key_template.format("JOB"), "JOB")
# A job's hash, with "{}" where its id goes (`proctoring.store.keys.template`).
JOB_TEMPLATE = Job.key_for("{}")
# An execution's hash (by "<job id>:<execution id>"), a job's executions registry and its results
# stream, with "{}" where the id goes.
EXECUTION_TEMPLATE = EXECUTION_KEY_PREFIX + "{}"
EXECUTIONS_TEMPLATE = EXECUTIONS_REGISTRY_KEY_PREFIX + "{}"
RESULTS_TEMPLATE = Result.get_key("{}")


def executions_registry_key(job_id: str) -> str:
    """The key of job `job_id`'s executions registry (RQ's `ExecutionRegistry`)."""
    return ExecutionRegistry.key_template.format(job_id)


def worker_executions_key(worker_name: str) -> str:
    """The key of the set of executions worker `worker_name` runs."""
    return WORKER_EXECUTIONS_KEY_TEMPLATE.format(worker_name)
