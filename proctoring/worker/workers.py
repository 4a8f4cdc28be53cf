"""The worker class behind `rqworker proctoring`: RQ's, with many jobs at once.

Concurrency: a stock RQ worker runs one job at a time, and a job spends nearly all its time
waiting for the API, so one job at a time leaves a process idle. `ProctoringWorker` runs up to
`PROCTORING_WORKER_CONCURRENCY` jobs at once in threads of one process. Its main thread takes as
many jobs as there are free threads in one round trip (`proctoring.worker.intake`), and a frame
job's success is recorded in batches (`proctoring.worker.successes`), in RQ's own keys and
shapes; failures, retries, callbacks and the failed registry go through RQ's own code. A worker
never holds a job it is not running. A warm shutdown (SIGTERM, Ctrl-C) stops taking jobs and
waits for the jobs in flight to finish and be recorded. Job timeouts come from one watchdog
thread (`proctoring.worker.timeouts`), because SIGALRM only reaches the main thread.
"""

from __future__ import annotations

import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from django.conf import settings
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.utils import now as rq_now
from rq.worker import WorkerStatus
from rq.worker.base import DequeueStrategy

from proctoring.core import events
from proctoring.queue import metrics, recent_events
from proctoring.results import writer
from proctoring.store import keys, rq_internals
from proctoring.store.connections import get_redis
from proctoring.worker import (
    intake,
    leases,
    names,
    running,
    scheduling,
    slots,
    successes,
)
from proctoring.worker.timeouts import WatchdogDeathPenalty
from proctoring_site import gc_tuning, redis_check, redis_clients

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0  # seconds
REPORT_EVERY = 10.0  # seconds between progress lines in the log
TAKE_MAX = 64  # jobs taken per round trip at most
TAKE_LINGER = 0.01  # seconds a worker waits after the first job of a trickle, for more
SCHEDULER_CHECK_SECONDS = 5.0  # how often a worker makes sure a scheduler runs


class ProctoringWorker(running.JobRunning, SimpleWorker):
    death_penalty_class = WatchdogDeathPenalty
    # Between tries while Redis is away (1, 2, 4, 5, 5… s): RQ's 60 s would leave a worker asleep
    # for up to a minute after Redis is back, during a live exam.
    max_connection_wait_time = 5.0

    def __init__(self, *args: Any, concurrency: int | None = None, **kwargs: Any) -> None:
        # Before RQ's own first command (CLIENT SETNAME, in its __init__): a wrong password or CA
        # stops the worker with a clear line; a Redis that is down does not.
        redis_check.exit_if_refused("worker")
        redis_check.wait_until_reachable("worker")
        if not kwargs.get("name") and len(args) < 2:  # no --name: `<short hostname>.<pid>`
            kwargs["name"] = names.unique_name(kwargs.get("connection") or get_redis())
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency or settings.PROCTORING_WORKER_CONCURRENCY
        redis_clients.use_blocking_pool(self.connection, 2 * self.concurrency + 16)
        self._slots = slots.Slots(self.concurrency)
        # Threads kept free for sparse clients under backlog (`proctoring.worker.slots`), and the
        # state of that: when a sparse client's frame was last taken, whether the last take
        # left backlogged frames for the reserve, and the thread that watches for sparse ones.
        self._reserve = (
            slots.reserve_size(self.concurrency, settings.PROCTORING_FAIR_RESERVE_PERCENT)
            if settings.PROCTORING_QUEUE_ORDER == "fair"
            else 0
        )
        self._sparse_at = float("-inf")
        self._holding_back = False
        self._watch: slots.SparseWatch | None = None
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"rq-job-{self.pid}")
        self._finisher: successes.Finisher | None = None
        self._leases: leases.Leases | None = None
        self._circuit_open = False
        self._stopping = False  # a warm shutdown was asked for
        self._reported = (time.monotonic(), 0)
        self._next_scheduler_check = time.monotonic() + SCHEDULER_CHECK_SECONDS
        events.publisher.add_sink(recent_events.record)  # the overview opens with the last events

    def work(
        self,
        burst: bool = False,
        logging_level: str | None = None,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: int | None = None,
        with_scheduler: bool = False,
        dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT,
    ) -> bool:
        """RQ's work loop (suspension, maintenance, scheduler, heartbeats, warm shutdown), but
        taking as many jobs per round trip as there are free threads to run them."""
        self.bootstrap(logging_level, date_format, log_format)
        gc_tuning.settle_heap()  # start-up done: what is loaded now lives as long as the process
        self._leases = leases.Leases(self.connection)
        self._finisher = successes.Finisher(self.connection, self.key, on_commit=self._committed)
        if self._reserve:
            self._sparse_at = time.monotonic()  # kept from the start, until no sparse client comes
            self._watch = slots.SparseWatch(self.connection, keys.clients_ring_sparse(), self._slots)
        if with_scheduler:
            scheduling.start(self, burst, logging_level, date_format, log_format)
        # RQ's handlers: the first SIGINT or SIGTERM asks for a warm shutdown, the next for a cold one.
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        taken = 0
        idle_since = time.monotonic()
        connection_wait = 1.0
        try:
            while True:
                try:
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    if self._stopping:
                        self.log.info("Worker %s: stopping on request", self.name)
                        break
                    self.heartbeat()
                    self._report()
                    if with_scheduler and not burst and time.monotonic() >= self._next_scheduler_check:
                        self._next_scheduler_check = time.monotonic() + SCHEDULER_CHECK_SECONDS
                        scheduling.restart_if_stopped(self)
                    most = TAKE_MAX if max_jobs is None else min(TAKE_MAX, max_jobs - taken)
                    free = self._acquire(most)
                    if not free:
                        continue
                    if self._stopping:  # asked while this loop waited for a free thread
                        self._slots.release(free)
                        continue
                    try:
                        batch = self._take(free)
                    except intake.Suspended:
                        # RQ's wait (a second at a time, heartbeats included) until resumed.
                        self.check_for_suspension(burst)
                        continue
                    except intake.CircuitOpen as circuit:
                        # The API is down: jobs wait in the queue rather than burn attempts.
                        if not self._circuit_open:
                            self.log.warning(
                                "Worker %s: the API's circuit is %s; taking nothing",
                                self.name,
                                "half-open, its probe out" if circuit.probing else "open",
                            )
                            self._circuit_open = True
                        # While a probe is out, look often: a probe that was an expired frame
                        # ends at once and hands the probe on (a backlog of them after a long
                        # outage must drain fast, or the fresh frames behind it wait too).
                        time.sleep(0.02 if circuit.probing else 0.5)
                        continue
                    if self._circuit_open:
                        self.log.info("Worker %s: taking jobs again", self.name)
                        self._circuit_open = False
                    connection_wait = 1.0
                    if batch:
                        idle_since = time.monotonic()
                        taken += len(batch)
                        if max_jobs is not None and taken >= max_jobs:
                            self.log.info("Worker %s: finished executing %d jobs, quitting", self.name, taken)
                            break
                        # Fewer jobs than free threads: the queue is empty now (unless the
                        # reserve held frames back), and another take would find nothing; wait
                        # for the next job instead.
                        if len(batch) == free or burst or self._holding_back:
                            continue
                        self._wait_for_jobs()
                        continue
                    if self._holding_back:  # the queue is not empty: wait for a thread
                        continue
                    if burst:
                        self.log.info("Worker %s: done, quitting", self.name)
                        break
                    if max_idle_time is not None and time.monotonic() - idle_since > max_idle_time:
                        self.log.info("Worker %s: idle for %d seconds, quitting", self.name, max_idle_time)
                        break
                    self._wait_for_jobs()
                except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
                    refused = isinstance(exc, redis.ResponseError)
                    if refused and not redis_check.refusing_for_now(exc):
                        self.log.error(
                            "Worker %s: found an unhandled exception, quitting...", self.name, exc_info=True
                        )
                        break
                    # Redis away, or a primary short of replicas, out of memory, mid-failover:
                    # wait for it, the scheduler with it, rather than quit.
                    self.log.error(
                        "Worker %s: %s (%s); retrying in %.0f s",
                        self.name,
                        "Redis refuses writes for now" if refused else "could not reach Redis",
                        exc,
                        connection_wait,
                    )
                    time.sleep(connection_wait)
                    connection_wait = min(connection_wait * 2, self.max_connection_wait_time)
                except StopRequested:
                    break
                except SystemExit:
                    raise
                except Exception:
                    self.log.error(
                        "Worker %s: found an unhandled exception, quitting...", self.name, exc_info=True
                    )
                    break
        finally:
            self.teardown()
        return bool(taken)

    def _reserve_kept(self) -> int:
        """Threads to keep free for sparse clients now: the reserve, while they come."""
        if self._reserve and time.monotonic() - self._sparse_at < settings.PROCTORING_FAIR_RESERVE_HOLD:
            return self._reserve
        return 0

    def _acquire(self, most: int) -> int:
        """Waits (up to a second) for free threads and takes them. While the reserve holds
        backlogged frames back, that is for a thread beyond the reserve, or for a sparse
        client's frame (then the reserve's threads serve it)."""
        keep = self._reserve_kept() if self._holding_back else 0
        if keep and self._watch is not None:
            self._watch.ask()
        return self._slots.acquire(most, timeout=1.0, keep=keep)

    def _take(self, count: int) -> list[intake.Taken]:
        """Starts up to `count` jobs (from the first queue that has any) on reserved threads;
        slots not used are given back."""
        started: list[intake.Taken] = []
        kept = self._reserve_kept()
        self._holding_back = False
        try:
            for queue in self.queues:
                answer = intake.take(
                    self.connection,
                    queue.key,
                    queue.started_job_registry.key,
                    self.key,
                    self.name,
                    count - len(started),
                    job_class=self.job_class,
                    serializer=self.serializer,
                    backlog=max(0, count - kept) if kept else -1,
                )
                batch = answer.taken
                if answer.sparse:
                    self._sparse_at = time.monotonic()
                self._holding_back = self._holding_back or answer.held_back
                for item in batch:
                    self.executions[item.execution.id] = item.execution
                    if self._leases is not None:
                        self._leases.hold(item.execution.composite_key, queue.started_job_registry.key)
                    self._pool.submit(self._run_job, item, queue)
                started.extend(batch)
                if len(started) == count:
                    break
        finally:
            if len(started) < count:
                self._slots.release(count - len(started))
        if started:
            rq_internals.mark_busy(self)
        return started

    def _wait_for_jobs(self) -> None:
        """Blocks (up to a second, so that heartbeats and stop requests go on) until a queue
        has a job. BLMOVE of a list onto itself, head to head, changes nothing."""
        if self._slots.busy == 0 and self.get_state() != WorkerStatus.IDLE:
            self.set_state(WorkerStatus.IDLE)
        if len(self.queues) == 1:
            key = self.queues[0].key
            if self.connection.blmove(key, key, 1, "LEFT", "LEFT") is not None:
                # A job came: give it a moment's company, so that a trickle of frames is
                # taken a few per round trip rather than one (a take costs about as much for
                # one job as for several, and is most of what a worker itself does per frame).
                time.sleep(TAKE_LINGER)
        else:
            time.sleep(0.05)

    def _report(self) -> None:
        """One line every ten seconds instead of one per job; the metrics once a second."""
        if metrics.recorder.due():
            try:
                metrics.recorder.flush(self.connection)
            except redis.RedisError as exc:
                log.warning("could not write the worker's metrics: %s", exc)
        at, count = self._reported
        elapsed = time.monotonic() - at
        if elapsed < REPORT_EVERY or self._finisher is None:
            return
        done = self._finisher.completed
        if done != count:
            self.log.info(
                "Worker %s: %d job(s) completed in %.0f s (%.1f/s), %d running",
                self.name,
                done - count,
                elapsed,
                (done - count) / elapsed,
                self._slots.busy,
            )
        self._reported = (time.monotonic(), done)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ beats after every dequeue and every job, three round trips each time; with many
        jobs a second that is most of a process's work. Its TTL is minutes, so one beat a
        second is plenty (beats inside a pipeline, with other writes, always go)."""
        if pipeline is None and timeout is None and self.last_heartbeat is not None:
            if (rq_now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
                return
        super().heartbeat(timeout, pipeline)

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        self._stopping = True

    def teardown(self) -> None:
        # Warm shutdown: the jobs in flight finish (each is bounded by its timeout), their
        # successes are recorded, then the worker unregisters.
        in_flight = self._slots.busy
        if in_flight:
            log.info("worker %s: waiting for %d job(s) in flight", self.name, in_flight)
        self._pool.shutdown(wait=True)
        if self._watch is not None:
            self._watch.close()
        # Their answers may still be on their way to the database; their successes follow.
        writer.wait_written(timeout=successes.WAIT_TIMEOUT)
        if self._finisher is not None:
            self._finisher.close()
        if self._leases is not None:
            self._leases.close()
        super().teardown()
