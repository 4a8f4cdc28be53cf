"""The scheduler of the `proctoring` queue: RQ's, with retries on time, abandoned jobs taken up
within their lease, and the per-client counts put right.

Retries on time: RQ stores a retry's due time in whole seconds (rounded down) and its scheduler
looks once a second, so a "2 s" retry runs anywhere from 1 to 3 s later. We round the due time
to the nearest second and look four times a second: a retry runs within about half a second of
its backoff.
"""

from __future__ import annotations

import logging
import os
import time

import redis
import redis.sentinel
from django.conf import settings
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.utils import current_timestamp

from proctoring.queue import counters
from proctoring.queue.rq_queue import ProctoringQueue, ProctoringStartedJobRegistry
from proctoring_site import redis_check, redis_clients

log = logging.getLogger(__name__)


class ProctoringScheduler(RQScheduler):
    """RQ's scheduler, polling every `tick` seconds instead of every second; the one that holds
    the queue's lock also puts the per-client counts right every `PROCTORING_RECONCILE_SECONDS`
    (`counters.reconcile`: jobs deleted or ended behind our back).

    `interval` stays 1: RQ derives its lock TTLs from it and Redis wants whole seconds there.
    """

    tick = 0.25
    _next_reconcile = 0.0
    _next_cleanup = 0.0
    cleanup_every = 2.0  # seconds between looks for abandoned jobs (leases run out)

    @property
    def connection(self) -> redis.Redis:
        """RQ rebuilds the worker's client from its pool's settings in the scheduler's process,
        which a Sentinel pool's connections cannot be made from: make one of the configured
        Redis instead."""
        if (
            self._connection is None
            and isinstance(self._pool_class, type)
            and issubclass(self._pool_class, redis.sentinel.SentinelManagedConnection)
        ):
            self._connection = redis.Redis(  # type: ignore[assignment]
                connection_pool=redis_clients.blocking_pool(
                    max_connections=8, **redis_clients.WORKER_POOL_OPTIONS
                )
            )
        connection: redis.Redis = RQScheduler.connection.fget(self)  # type: ignore[attr-defined]
        return connection

    def clean_abandoned(self) -> None:
        """RQ's cleanup of the started registry (abandoned jobs are retried, or failed), run
        every few seconds rather than RQ's ten minutes: with leases (`PROCTORING_JOB_LEASE_SECONDS`)
        a job whose worker died is taken up again within the lease and a few seconds."""
        if not self._acquired_locks or time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + self.cleanup_every
        for name in self._acquired_locks:
            try:
                ProctoringStartedJobRegistry(
                    name, connection=self.connection, serializer=self.serializer
                ).cleanup()
            except redis.RedisError as exc:
                log.warning("could not look for abandoned jobs of %s: %s", name, exc)

    def reconcile_counts(self) -> None:
        every = settings.PROCTORING_RECONCILE_SECONDS
        if not self._acquired_locks or time.monotonic() < self._next_reconcile:
            return
        self._next_reconcile = time.monotonic() + every
        try:
            changed = counters.reconcile(connection=self.connection)
        except redis.RedisError as exc:
            log.warning("could not check the per-client counts: %s", exc)
            return
        if changed:
            log.warning("per-client counts of %d client(s) had drifted and were put right", changed)

    def enqueue_scheduled_jobs(self) -> None:
        """RQ's, moving due jobs with our queue class, so that their counts move with them."""
        self._status = self.Status.WORKING
        if not self._scheduled_job_registries and self._acquired_locks:
            self.prepare_registries()
        for registry in self._scheduled_job_registries:
            job_ids = registry.get_jobs_to_schedule(current_timestamp())
            if not job_ids:
                continue
            queue = ProctoringQueue(registry.name, connection=self.connection, serializer=self.serializer)
            jobs = Job.fetch_many(job_ids, connection=self.connection, serializer=self.serializer)
            rate_limited = [job for job in jobs if job is not None and job.has_rate_limit]
            with self.connection.pipeline() as pipeline:
                for job_id, job in zip(job_ids, jobs, strict=True):
                    if job is not None and job.has_rate_limit:
                        continue
                    if job is not None:
                        queue._enqueue_job(job, pipeline=pipeline, at_front=job.should_enqueue_at_front())
                    registry.remove(job_id, pipeline=pipeline)
                pipeline.execute()
            for job in rate_limited:
                with self.connection.pipeline() as pipeline:
                    registry.remove(job.id, pipeline=pipeline)
                    queue._enqueue_rate_limited_job(
                        job, pipeline=pipeline, at_front=job.should_enqueue_at_front()
                    )
                    pipeline.execute()
        self._status = self.Status.STARTED

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        wait = self.tick
        parent = os.getppid()
        while True:
            if self._stop_requested:
                self.stop()
                break
            if os.getppid() != parent:
                # Its worker died without stopping it (kill -9): the scheduler would otherwise
                # outlive it, forever if Redis is gone too. Another worker takes the lock over.
                log.warning("scheduler: its worker (pid %d) is gone; stopping", parent)
                break
            try:
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                self.clean_abandoned()
                self.reconcile_counts()
                wait = self.tick
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
                if isinstance(exc, redis.ResponseError) and not redis_check.refusing_for_now(exc):
                    raise
                # RQ's scheduler dies here, and its worker starts another only at its next
                # maintenance (10 minutes): retries and abandoned jobs would wait that long
                # after a Redis restart. Wait for Redis instead, briefly: retries are due.
                wait = min(max(wait * 2, 0.5), 5.0)
                log.warning("scheduler: Redis unavailable (%s); trying again in %.1f s", exc, wait)
            time.sleep(wait)
