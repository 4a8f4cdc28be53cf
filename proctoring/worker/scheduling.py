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
import signal
import time
from typing import Any

import redis
import redis.sentinel
from django.conf import settings
from rq.worker import BaseWorker

from proctoring.queue import counters
from proctoring.queue.rq_queue import ProctoringQueue, ProctoringStartedJobRegistry
from proctoring.store import rq_internals
from proctoring.store.rq_internals import SchedulerBase
from proctoring.worker import scheduler_lock
from proctoring_site import redis_check, redis_clients

log = logging.getLogger(__name__)


class ProctoringScheduler(SchedulerBase):
    """RQ's scheduler, polling every `tick` seconds instead of every second; the one that holds
    the queue's lock also puts the per-client counts right every `PROCTORING_RECONCILE_SECONDS`
    (`counters.reconcile`: jobs deleted or ended behind our back), and removes a bounded number
    of frames' envelopes whose job was deleted (`counters.remove_orphan_frames`).

    `interval` stays 1: RQ derives its lock TTLs from it and Redis wants whole seconds there.
    """

    queue_class = ProctoringQueue  # due retries move with their counts
    job_class = counters.FrameJob  # which knows its client without reading its hash again
    tick = 0.25
    _next_reconcile = 0.0
    _orphan_cursor = 0  # where the walk over frames' envelopes goes on (`counters.remove_orphan_frames`)
    _next_cleanup = 0.0
    _stopping = False  # asked to stop (SIGTERM from its worker, or Ctrl-C)
    cleanup_every = 2.0  # seconds between looks for abandoned jobs (leases run out)

    def own_connection(self, pool_connection_class: type) -> redis.Redis | None:
        """RQ rebuilds the worker's client from its pool's settings in the scheduler's process,
        which a Sentinel pool's connections cannot be made from: make one of the configured
        Redis instead."""
        if isinstance(pool_connection_class, type) and issubclass(
            pool_connection_class, redis.sentinel.SentinelManagedConnection
        ):
            return redis.Redis(
                connection_pool=redis_clients.blocking_pool(
                    max_connections=8, **redis_clients.WORKER_POOL_OPTIONS
                )
            )
        return None

    def clean_abandoned(self) -> None:
        """RQ's cleanup of the started registry (abandoned jobs are retried, or failed), run
        every few seconds rather than RQ's ten minutes: with leases (`PROCTORING_JOB_LEASE_SECONDS`)
        a job whose worker died is taken up again within the lease and a few seconds."""
        if not self.acquired_locks or time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + self.cleanup_every
        for name in self.acquired_locks:
            try:
                ProctoringStartedJobRegistry(
                    name, connection=self.connection, serializer=self.serializer
                ).cleanup()
            except redis.RedisError as exc:
                log.warning("could not look for abandoned jobs of %s: %s", name, exc)

    def reconcile_counts(self) -> None:
        every = settings.PROCTORING_RECONCILE_SECONDS
        if not self.acquired_locks or time.monotonic() < self._next_reconcile:
            return
        self._next_reconcile = time.monotonic() + every
        try:
            changed = counters.reconcile(connection=self.connection)
        except redis.RedisError as exc:
            log.warning("could not check the per-client counts: %s", exc)
            return
        if changed:
            log.warning("per-client counts of %d client(s) had drifted and were put right", changed)
        self.remove_orphan_frames()

    def remove_orphan_frames(self) -> None:
        """A bounded step of the walk that removes frames' envelopes whose job is gone."""
        try:
            self._orphan_cursor, removed = counters.remove_orphan_frames(self._orphan_cursor, self.connection)
        except redis.RedisError as exc:
            log.warning("could not look for frames whose job is gone: %s", exc)
            return
        if removed:
            log.info("removed %d frame(s) whose job was gone (deleted from django-rq's pages)", removed)

    def request_stop(self, signum: Any = None, frame: Any = None) -> None:
        super().request_stop(signum, frame)
        self._stopping = True

    def _let_go(self) -> None:
        """Releases its locks and records its death, if Redis answers (else a worker frees the
        lock once it sees this scheduler dead: `scheduler_lock`)."""
        try:
            self.stop()
        except redis.RedisError as exc:
            log.warning("scheduler: could not release its lock: %s", exc)

    def work(self) -> None:
        """RQ's scheduler loop, at `tick`, with the abandoned-job cleanup and the counts' repair,
        riding out Redis outages and ending with its worker."""
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        born = False
        wait = self.tick
        parent = os.getppid()
        while True:
            if self._stopping:
                self.stop()
                break
            if os.getppid() != parent:
                # Its worker died without stopping it (kill -9): the scheduler would otherwise
                # outlive it, forever if Redis is gone too. Its lock is let go, so that the next
                # worker's scheduler takes it at once rather than after its TTL (61 s).
                log.warning("scheduler: its worker (pid %d) is gone; stopping", parent)
                self._let_go()
                break
            try:
                if not born:
                    # In the loop: a scheduler forked just as Redis went away waits for it too,
                    # rather than dying before its first heartbeat.
                    self.register_birth()
                    born = True
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


def start(worker: BaseWorker, burst: bool, logging_level: Any, date_format: str, log_format: str) -> None:
    """Starts `worker`'s scheduler with the queues' locks it can take, after freeing those a dead
    scheduler still holds (`scheduler_lock`)."""
    scheduler_lock.free_if_dead(worker.connection, worker.queue_names())
    rq_internals.start_scheduler(worker, ProctoringScheduler, burst, logging_level, date_format, log_format)


def restart_if_stopped(worker: BaseWorker) -> None:
    """Starts `worker`'s scheduler again if it stopped, or takes over the queue's lock when the
    scheduler that held it is dead: RQ looks only at its maintenance, every ten minutes, and
    until then no retry is queued and no abandoned job is taken up again."""
    scheduler = worker.scheduler
    if scheduler is None:
        return
    process = rq_internals.scheduler_process(scheduler)
    if process is not None and process.is_alive():
        return
    if process is not None:
        worker.log.warning(
            "Worker %s: its scheduler (pid %s) stopped; starting another", worker.name, process.pid
        )
    scheduler_lock.free_if_dead(worker.connection, worker.queue_names())
    scheduler.acquire_locks(auto_start=True)
