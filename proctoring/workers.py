"""The queue and worker classes behind `rqworker proctoring`: RQ's, with many jobs at once and
retries on time.

Concurrency: a stock RQ worker runs one job at a time, and a job spends nearly all its time
waiting for the API (3-4 frames/s per process at 200 ms). `ProctoringWorker` runs up to
`PROCTORING_WORKER_CONCURRENCY` jobs at once in threads of one process, each through RQ's own
`perform_job`, so registries, executions, retries, callbacks and the failed registry behave as
with any RQ worker. The main thread dequeues only when a thread is free, so a worker never
holds a job it is not running. A warm shutdown (SIGTERM, Ctrl-C) stops dequeuing and waits for
the jobs in flight to finish; job timeouts use a timer per job (`TimerDeathPenalty`) because
SIGALRM only reaches the main thread.

Retries on time: RQ stores a retry's due time in whole seconds (rounded down) and its scheduler
looks once a second, so a "2 s" retry runs anywhere from 1 to 3 s later. We round the due time
to the nearest second and look four times a second: a retry runs within about half a second of
its backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django_rq.queues import DjangoRQ
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty
from rq.utils import now as rq_now

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0  # seconds


class ProctoringQueue(DjangoRQ):
    def schedule_job(self, job: Job, datetime: datetime, pipeline: Any = None, unique: bool = False) -> Job:
        # RQ truncates to whole seconds; adding half a second makes that a rounding to nearest.
        scheduled: Job = super().schedule_job(job, datetime + timedelta(seconds=0.5), pipeline, unique)
        return scheduled


class ProctoringScheduler(RQScheduler):
    """RQ's scheduler, polling every `tick` seconds instead of every second.

    `interval` stays 1: RQ derives its lock TTLs from it and Redis wants whole seconds there.
    """

    tick = 0.25

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        while True:
            if self._stop_requested:
                self.stop()
                break
            if self.should_reacquire_locks:
                self.acquire_locks()
            self.heartbeat()
            self.enqueue_scheduled_jobs()
            time.sleep(self.tick)


def _wait_for_connections(connection: redis.Redis, size: int) -> None:
    """Gives the worker's Redis client (shared with its queues) a pool that waits for a free
    connection: redis-py's default pool fails past its limit, and dozens of job threads each
    holding one or two connections reach it."""
    old = connection.connection_pool
    connection.connection_pool = redis.BlockingConnectionPool(
        connection_class=old.connection_class, max_connections=size, timeout=30, **old.connection_kwargs
    )
    old.disconnect()


class ProctoringWorker(SimpleWorker):
    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args: Any, concurrency: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency or settings.PROCTORING_WORKER_CONCURRENCY
        _wait_for_connections(self.connection, 2 * self.concurrency + 16)
        self._free = threading.BoundedSemaphore(self.concurrency)
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"rq-job-{self.pid}")

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Takes a job off the queue only once a thread is free to run it, so that a job never
        waits inside a worker while another could have run it."""
        while not self._free.acquire(timeout=1):
            if self._stop_requested:
                return None
        if self._stop_requested:
            self._free.release()
            return None
        try:
            result: tuple[Job, Queue] | None = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except BaseException:
            self._free.release()
            raise
        if result is None:
            self._free.release()
        return result

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Hands the job to the thread reserved for it when it was dequeued."""
        try:
            execution = self.prepare_execution(job)
            self._pool.submit(self._perform, job, queue, execution)
        except BaseException:
            self._free.release()
            raise

    def _perform(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            self.perform_job(job, queue, execution)
        except BaseException:
            # perform_job records a job's own failure; this is RQ's bookkeeping itself failing.
            log.exception("worker thread crashed on job %s", job.id)
        finally:
            self._free.release()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's loop beats after every dequeue and every job, three round trips each time; with
        many jobs a second that is most of the main thread's work. Its TTL is minutes, so one
        beat a second is plenty (beats inside a pipeline, with other writes, always go)."""
        if pipeline is None and timeout is None and self.last_heartbeat is not None:
            if (rq_now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
                return
        super().heartbeat(timeout, pipeline)

    def teardown(self) -> None:
        # Warm shutdown: the jobs in flight finish (each is bounded by its timeout) before the
        # worker unregisters.
        in_flight = len(self.executions)
        if in_flight:
            log.info("worker %s: waiting for %d job(s) in flight", self.name, in_flight)
        self._pool.shutdown(wait=True)
        super().teardown()

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own `_start_scheduler` (rq 3.0), with our scheduler class."""
        self.scheduler = ProctoringScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()
