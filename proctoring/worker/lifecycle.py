"""RQ's job lifecycle for frame jobs, in batches: take several jobs in one round trip, finish
several in another.

A stock RQ worker makes about twenty Redis round trips per job (dequeue, fetch, the execution
record, the started registry, heartbeats, success bookkeeping and `Job.delete`, which reads the
job's executions back before deleting them). At a few hundred frames a second that, not the
API, is what a worker process spends its CPU on. Here the same records are written, in the same
keys and shapes, by one Lua script per batch of jobs (`take`) and one transaction per batch of
successes (`Finisher`), so that RQ's registries, django-rq's pages, `rqstats`, RQ's failure and
retry handling and its abandoned-job cleanup all see exactly what they would with RQ's worker.

Only the success of a job this project enqueues (a frame job: result kept 0 s, no callback,
dependents, repeats, webhooks, group or rate limit) takes the batched path; every other outcome
goes through RQ's own code.
"""

from __future__ import annotations

import logging
import queue as queue_module
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import redis
from django.conf import settings
from rq.defaults import DEFAULT_WORKER_TTL
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution
from rq.job import Job
from rq.results import Result
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import str_to_date, utcformat

from proctoring.queue import counters, fairness, policy
from proctoring.store import keys, rq_internals, scripts

log = logging.getLogger(__name__)

WAIT_TIMEOUT = 120.0  # seconds a non-batching worker waits for what a job's success waits on
LEASE_RENEW_FRACTION = 6  # a lease is renewed this many times in its length
Write = Callable[[Any], None]  # adds a job's own writes to a pipeline


@dataclass
class Taken:
    job: Job
    execution: Execution
    envelope: bytes | None


class Suspended(Exception):
    """Workers are suspended (`rq suspend`, or the admin's pause): nothing was taken."""


class CircuitOpen(Exception):
    """The API's circuit is open (`proctoring.queue.breaker`): nothing was taken. `probing`: it is
    half-open and its one probe job is out; the next may be taken as soon as that one ends."""

    def __init__(self, probing: bool = False) -> None:
        super().__init__("probing" if probing else "open")
        self.probing = probing


# RQ's execution and executions-registry key prefixes (the job id follows them).
_EXECUTION_PREFIX = rq_internals.EXECUTION_KEY_PREFIX
_EXECUTIONS_REGISTRY_PREFIX = rq_internals.EXECUTIONS_REGISTRY_KEY_PREFIX


@dataclass
class Batch:
    """What one take started, and, in fair order, how many of them were sparse clients' frames
    and whether backlogged clients' frames were left because of the `backlog` limit."""

    taken: list[Taken]
    sparse: int = 0
    held_back: bool = False


# The keys of the jobs and clients the take script finds as it goes (`keys.template`).
_JOB_TEMPLATE = keys.template(Job.key_for)
_EXECUTION_TEMPLATE = _EXECUTION_PREFIX + keys.PLACEHOLDER  # by "<job id>:<execution id>"
_EXECUTIONS_TEMPLATE = _EXECUTIONS_REGISTRY_PREFIX + keys.PLACEHOLDER
_FRAME_TEMPLATE = keys.template(keys.frame)
_WAITING_TEMPLATE = keys.template(keys.client_waiting)
_PRIORITY_TEMPLATE = keys.template(keys.client_priority)


def take(
    connection: redis.Redis,
    queue_key: str,
    started_registry_key: str,
    worker_key: str,
    worker_name: str,
    count: int,
    job_class: type[Job] = Job,
    serializer: Any = None,
    backlog: int = -1,
) -> Batch:
    """Takes up to `count` jobs off the queue and starts an execution of each, as RQ would; in
    fair order, sparse clients' frames first and at most `backlog` of backlogged clients'
    (-1: any number).

    Raises:
        Suspended: workers are suspended; nothing was taken.
    """
    if count < 1:
        return Batch([])
    started = datetime.now(UTC)
    execution_ids = [uuid4().hex for _ in range(count)]
    answer = scripts.take(
        connection,
        queue=queue_key,
        started_registry=started_registry_key,
        worker=worker_key,
        worker_executions=WORKER_EXECUTIONS_KEY_TEMPLATE.format(worker_name),
        suspended=WORKERS_SUSPENDED,
        circuit_open=keys.api_circuit_open(),
        api_failures=keys.api_failures(),
        api_probe=keys.api_probe(),
        ring=keys.clients_ring(),
        ring_new=keys.clients_ring_new(),
        ring_turn=keys.clients_ring_turn(),
        failed_kinds=keys.FAILED_KINDS,
        n=count,
        now=repr(started.timestamp()),
        stamp=utcformat(started),
        worker_name=worker_name,
        worker_ttl=DEFAULT_WORKER_TTL,
        lease=lease_seconds(),
        breaker_threshold=settings.PROCTORING_BREAKER_THRESHOLD,
        breaker_cooldown=settings.PROCTORING_BREAKER_COOLDOWN,
        fair=settings.PROCTORING_QUEUE_ORDER == "fair",
        flagged_weight=settings.PROCTORING_FAIR_FLAGGED_WEIGHT,
        sparse_backlog=fairness.SPARSE_BACKLOG,
        backlog=backlog,
        job_template=_JOB_TEMPLATE,
        execution_template=_EXECUTION_TEMPLATE,
        executions_template=_EXECUTIONS_TEMPLATE,
        frame_template=_FRAME_TEMPLATE,
        waiting_template=_WAITING_TEMPLATE,
        priority_template=_PRIORITY_TEMPLATE,
        counts_template=counters.COUNTS_TEMPLATE,
        failed_template=counters.FAILED_TEMPLATE,
        kind_template=counters.KIND_TEMPLATE,
        execution_ids=execution_ids,
    )
    if answer == [-1]:
        raise Suspended()
    if answer == [-2]:
        raise CircuitOpen()
    if answer == [-3]:
        raise CircuitOpen(probing=True)
    sparse, held_back = answer[0], answer[1]
    taken: list[Taken] = []
    for i in range(2, len(answer), 4):
        job_id, execution_id, flat, envelope = answer[i : i + 4]
        job_id = job_id.decode()
        job = job_class(job_id, connection=connection, serializer=serializer)
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        dates = {name: fields.pop(name) for name in _DATE_FIELDS if fields.get(name)}
        job.restore(fields)
        for name, value in dates.items():
            setattr(job, name.decode(), _parse_date(value))
        execution = Execution(
            id=execution_id.decode(), job_id=job_id, connection=connection, worker_name=worker_name
        )
        execution.created_at = execution.last_heartbeat = started
        rq_internals.set_execution_job(execution, job)
        taken.append(Taken(job, execution, envelope if isinstance(envelope, bytes) else None))
    return Batch(taken, sparse, bool(held_back))


# RQ parses these with strptime, which was a tenth of a busy worker's CPU.
_DATE_FIELDS = (b"created_at", b"enqueued_at", b"started_at", b"ended_at", b"last_heartbeat")


def _parse_date(value: bytes) -> datetime:
    """RQ's timestamp format ("2026-11-29T06:03:54.123456Z"), read as RQ reads it."""
    try:
        return datetime.fromisoformat(value.decode())
    except ValueError:
        parsed: datetime = str_to_date(value)
        return parsed


def is_batchable(job: Job, return_value: Any) -> bool:
    """Whether a finished job's success needs nothing of RQ's but deleting its records."""
    return (
        return_value is None
        and job.func_name == policy.FRAME_JOB
        and job.result_ttl == 0
        and job.success_callback is None
        and not job.webhooks
        and job.repeats_left is None
        and not job.group_id
        and not job.has_rate_limit
        and not rq_internals.has_dependencies(job)
    )


# What the running job asked to write once it has succeeded (its own keys), per job thread.
_context = threading.local()


def begin_job(job_id: str, envelope: bytes | None) -> None:
    _context.writes = []
    _context.waits = []
    _context.envelope = (job_id, envelope)


def end_job() -> list[Write]:
    writes: list[Write] = getattr(_context, "writes", None) or []
    _context.writes = None
    _context.envelope = None
    return writes


def end_waits() -> list[Future[None]]:
    """What the job's success must wait for (`defer_success_until`), cleared."""
    waits: list[Future[None]] = getattr(_context, "waits", None) or []
    _context.waits = None
    return waits


def defer_success_until(done: Future[None]) -> bool:
    """Asks a batching worker to record the job's success only once `done` has succeeded (if
    it fails, the success is never recorded: RQ's cleanup finds the job abandoned and runs it
    again), and to free the job's slot meanwhile. Returns False when not under a batching
    worker: the caller waits for `done` itself."""
    waits = getattr(_context, "waits", None)
    if waits is None:
        return False
    waits.append(done)
    return True


def defer_on_success(write: Write) -> bool:
    """Queues `write` to run with the job's success bookkeeping, when the job runs under a
    batching worker; returns False (nothing queued) otherwise, and the caller runs it now."""
    writes = getattr(_context, "writes", None)
    if writes is None:
        return False
    writes.append(write)
    return True


def prefetched_envelope(job_id: str) -> bytes | None:
    """Job `job_id`'s frame envelope, when the worker read it along with the job."""
    prefetched: tuple[str, bytes | None] | None = getattr(_context, "envelope", None)
    if prefetched is None or prefetched[0] != job_id:
        return None
    return prefetched[1]


@dataclass
class Succeeded:
    job: Job
    execution: Execution
    started_registry_key: str
    writes: list[Write] = field(default_factory=list)


class Finisher:
    """Commits successes in batches from one thread: a job's thread hands its success over and
    goes on to the next job; the records go in one MULTI/EXEC per batch.

    If Redis cannot be reached, a batch is tried again with backoff; a batch still not written
    when the worker stops leaves its jobs in the started registry, where RQ's cleanup finds them
    abandoned and retries them (the API sees the same idempotency key again): never lost.
    """

    MAX_BATCH = 256

    def __init__(
        self,
        connection: redis.Redis,
        worker_key: str,
        on_commit: Callable[[list[Succeeded]], None] | None = None,
    ) -> None:
        self.connection = connection
        self.worker_key = worker_key
        self.on_commit = on_commit
        self.completed = 0
        self._items: queue_module.SimpleQueue[Succeeded | None] = queue_module.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rq-finisher", daemon=True)
        self._thread.start()

    def add(self, item: Succeeded) -> None:
        self._items.put(item)

    def add_when(
        self, item: Succeeded, waits: list[Future[None]], on_failure: Callable[[BaseException], None]
    ) -> None:
        """Records `item` once every one of `waits` has succeeded; if one fails, its success is
        never recorded and `on_failure` gets the error (the job fails, and is retried, as if
        it had raised it)."""
        if not waits:
            self.add(item)
            return
        left = [len(waits)]
        lock = threading.Lock()

        def done(future: Future[None]) -> None:
            error = future.exception()
            if error is not None:
                with lock:
                    first = left[0] > 0
                    left[0] = 0
                if first:
                    on_failure(error)
                return
            with lock:
                if left[0] == 0:
                    return  # another wait failed
                left[0] -= 1
                ready = left[0] == 0
            if ready:
                self.add(item)

        for future in waits:
            future.add_done_callback(done)

    def close(self, timeout: float = 30.0) -> None:
        """Writes what is pending, then stops."""
        self._items.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._items.get()
            batch: list[Succeeded] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._items.get_nowait()
                except queue_module.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch, give_up_after=5 if stopping else None)

    def _commit(self, batch: list[Succeeded], give_up_after: int | None) -> None:
        delay = 0.1
        tries = 0
        while True:
            tries += 1
            try:
                with self.connection.pipeline(transaction=True) as pipe:
                    for item in batch:
                        _write_success(pipe, item)
                    pipe.hincrby(self.worker_key, "successful_job_count", len(batch))
                    pipe.hincrbyfloat(self.worker_key, "total_working_time", _working_seconds(batch))
                    pipe.execute()
                self.completed += len(batch)
                if self.on_commit is not None:
                    self.on_commit(batch)
                return
            except redis.RedisError as exc:
                if give_up_after is not None and tries >= give_up_after:
                    log.error(
                        "could not record %d finished job(s) (%s); RQ's cleanup will find them "
                        "abandoned and run them again: %s",
                        len(batch),
                        exc,
                        ", ".join(item.job.id for item in batch),
                    )
                    return
                log.warning(
                    "recording %d finished job(s) failed (%s); trying again in %.1fs", len(batch), exc, delay
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def _write_success(pipe: Any, item: Succeeded) -> None:
    """What RQ's success handling writes for a job kept 0 s: the job and its execution records go."""
    job, execution = item.job, item.execution
    for write in item.writes:
        write(pipe)
    pipe.delete(
        job.key,
        job.dependents_key,
        job.dependencies_key,
        Result.get_key(job.id),
        execution.key,
        rq_internals.executions_registry_key(job.id),
    )
    pipe.zrem(item.started_registry_key, execution.composite_key)
    pipe.srem(execution.worker_executions_key, execution.composite_key)


def _working_seconds(batch: list[Succeeded]) -> float:
    total = timedelta()
    for item in batch:
        if item.job.started_at and item.job.ended_at:
            total += item.job.ended_at - item.job.started_at
    return total.total_seconds()


def lease_seconds() -> int:
    """How long a taken job is its worker's unless renewed (`PROCTORING_JOB_LEASE_SECONDS`)."""
    return int(settings.PROCTORING_JOB_LEASE_SECONDS)


class Leases:
    """The started-registry entries a worker holds, renewed from one thread six times per
    lease (whatever the worker's main loop is doing, a warm shutdown included)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._held: dict[str, str] = {}  # composite key -> started registry key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rq-leases", daemon=True)
        self._thread.start()

    def hold(self, composite: str, registry_key: str) -> None:
        with self._lock:
            self._held[composite] = registry_key

    def release(self, composites: list[str]) -> None:
        with self._lock:
            for composite in composites:
                self._held.pop(composite, None)

    def renew(self) -> None:
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        until = int(time.time()) + lease_seconds()
        by_registry: dict[str, dict[str, int]] = {}
        for composite, registry_key in held.items():
            by_registry.setdefault(registry_key, {})[composite] = until
        with self.connection.pipeline(transaction=False) as pipe:
            for registry_key, members in by_registry.items():
                # XX: an entry its job's success or failure already removed stays removed.
                pipe.zadd(registry_key, members, xx=True)
            pipe.execute()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(lease_seconds() / LEASE_RENEW_FRACTION):
            try:
                self.renew()
            except redis.RedisError as exc:
                log.warning("could not renew %d job lease(s): %s", len(self._held), exc)
