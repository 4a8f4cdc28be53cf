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
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution, ExecutionRegistry
from rq.job import Job
from rq.results import Result
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import str_to_date, utcformat

from proctoring import breaker, counters, enqueue_script, keys

log = logging.getLogger(__name__)

FRAME_JOB = counters.FRAME_JOB
WAIT_TIMEOUT = 120.0  # seconds a non-batching worker waits for what a job's success waits on
LEASE_RENEW_FRACTION = 6  # a lease is renewed this many times in its length
Write = Callable[[Any], None]  # adds a job's own writes to a pipeline

# KEYS: 1 queue, 2 started registry, 3 worker hash, 4 worker's executions set, 5 RQ's
# "workers suspended" flag (then nothing is taken and the answer is {-1}).
# ARGV: 1 n, 2 job key prefix, 3 execution key prefix, 4 executions-registry key prefix,
# 5 frame key prefix, 6 now (epoch seconds), 7 now (RQ's text format), 8 worker name,
# 9 RQ's default worker TTL, 10 client key prefix (counters), 11 the lease (seconds),
# 12 the API breaker's threshold, 13 its cooldown, 14 "1" to take in fair order, 15 the weight
# of a client in its priority window (frames per turn), 16 the most frames a sparse client has
# waiting, 17 the most frames of backlogged clients to take (-1: no limit), 18.. one execution id
# per job.
# KEYS 6-8: the API breaker's open flag, failure count and probe flag (`proctoring.breaker`):
# while the circuit is open nothing is taken ({-2}); half-open, one job at most ({-3} while it is out).
# KEYS 9, 10: the clients' ring and the ring of new clients. In fair order, each job is the next
# waiting frame of the client whose turn it is (new clients first, then round-robin; a client in
# its priority window gets several per turn; `proctoring.fairness`), taken out of
# the queue wherever it is; a job that reached the queue without a waiting list (requeued by
# django-rq's pages) is taken from the queue's head once the ring is empty. In FIFO order, from
# the head, leaving its client's waiting list.
# A job's entry in the started registry is scored by when its lease runs out (now + lease),
# not by its timeout: the worker renews the leases of the jobs it holds every few seconds
# (`Leases`), so a job whose worker died is seen abandoned by RQ's cleanup within the lease,
# instead of after its timeout + 60 s.
# For each job still present: what RQ's prepare_execution and prepare_job_execution write
# (execution hash, the job's executions registry, the started registry, the worker's execution
# index, the job's status and start), all in one atomic step, so there is no moment at which a
# job is off the queue but in no registry (RQ needs an intermediate list for that). They are
# kept as long as RQ's SimpleWorker keeps them, the job's timeout + 60 s, since nothing
# refreshes them while the job runs. Returns, per job taken: id, execution id, the job hash
# (flat), the frame envelope (or false). Each job taken is counted as running for its client.
_TAKE = (
    counters.PC_MOVE
    + """
if redis.call('EXISTS', KEYS[5]) == 1 then return {-1} end
"""
    + breaker.TAKE_GATE
    + """
local now = tonumber(ARGV[6])
local default_ttl = tonumber(ARGV[9])
local CP = ARGV[10]
local fair = ARGV[14] == '1'
local weight = tonumber(ARGV[15])
local function leave_waiting(id, jkey)
  local client = client_of(jkey)
  if not client then return end
  local waiting = CP .. client .. ':waiting'
  redis.call('LREM', waiting, 1, id)
  if redis.call('LLEN', waiting) == 0 then
    redis.call('LREM', KEYS[9], 0, client)
    redis.call('LREM', KEYS[10], 0, client)
  end
end
-- The client whose turn it is: the head of the sparse clients' ring (KEYS[10]) if any, else the
-- backlogged clients' ring's head. How many frames it has had in this turn is kept beside the
-- rings (a turn may span several takes); the turn passes once it has had its share (more in its
-- priority window) or has nothing left waiting. Then it goes to the tail of the sparse ring if it
-- has at most SPARSE frames left, else of the backlogged ring (see `proctoring.fairness`).
local TURN = KEYS[9] .. ':turn'
local SPARSE = tonumber(ARGV[16])
-- The worker keeps a few threads for sparse clients under backlog (`proctoring.workers`): it
-- says how many backlogged frames it may start, and learns whether any were left for that.
local backlog_left = tonumber(ARGV[17])
local sparse_taken = 0
local held_back = 0
local from_sparse = false
local function next_fair()
  local turns = redis.call('LLEN', KEYS[9]) + redis.call('LLEN', KEYS[10])
  while turns > 0 do
    local ring = KEYS[10]
    local client = redis.call('LINDEX', ring, 0)
    from_sparse = client ~= false
    if not client then
      if backlog_left == 0 then
        if redis.call('LLEN', KEYS[9]) > 0 then held_back = 1 end
        return nil
      end
      ring = KEYS[9]
      client = redis.call('LINDEX', ring, 0)
    end
    if not client then return nil end
    local waiting = CP .. client .. ':waiting'
    local id = redis.call('LPOP', waiting)
    local share = 1
    if weight > 1 and redis.call('EXISTS', CP .. client .. ':priority') == 1 then share = weight end
    local served = 0
    if id then served = redis.call('HINCRBY', TURN, client, 1) end
    if redis.call('LLEN', waiting) == 0 then
      redis.call('LPOP', ring)
      redis.call('DEL', TURN)
      turns = turns - 1
    elseif served >= share then
      -- Still sparse (a frame or two left): round the first ring again; else the backlog's.
      local next_ring = KEYS[9]
      if redis.call('LLEN', waiting) <= SPARSE then next_ring = KEYS[10] end
      redis.call('LMOVE', ring, next_ring, 'LEFT', 'RIGHT')
      redis.call('DEL', TURN)
      turns = turns - 1
    end
    -- An id no longer in the queue (taken from the head, deleted) is only dropped. A sparse
    -- client's frame is a recent one: looked for from the tail (the backlog's frames, old,
    -- from the head), so the scan does not cross the whole backlog (~0.3 ms at 20,000).
    local direction = 1
    if from_sparse then direction = -1 end
    if id and redis.call('LREM', KEYS[1], direction, id) > 0 then return id end
  end
  return nil
end
-- A job at the queue's head that is in no waiting list (requeued by RQ's or django-rq's own
-- code, which does not know of them) goes first: under a lasting backlog the rings never empty,
-- and it would wait for ever.
local function orphan_at_head()
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then return nil end
  local client = client_of(ARGV[2] .. head)
  if client and redis.call('LPOS', CP .. client .. ':waiting', head) then return nil end
  return redis.call('LPOP', KEYS[1])
end
local taken = {0, 0}
for i = 1, take_n do
  local id = nil
  if fair and backlog_left ~= 0 then id = orphan_at_head() end
  if id then
    if backlog_left > 0 then backlog_left = backlog_left - 1 end
  elseif fair then
    id = next_fair()
    if id and from_sparse then sparse_taken = sparse_taken + 1 end
    if id and not from_sparse and backlog_left > 0 then backlog_left = backlog_left - 1 end
    if held_back == 1 then break end
  end
  if not id and fair and backlog_left == 0 then
    -- Jobs without a waiting list (requeued by django-rq's pages) count as backlog here.
    if redis.call('LLEN', KEYS[1]) > 0 then held_back = 1 end
    break
  end
  if not id then
    id = redis.call('LPOP', KEYS[1])
    if id then
      leave_waiting(id, ARGV[2] .. id)
      if backlog_left > 0 then backlog_left = backlog_left - 1 end
    end
  end
  if not id then break end
  local jkey = ARGV[2] .. id
  if redis.call('EXISTS', jkey) == 1 then
    local timeout = tonumber(redis.call('HGET', jkey, 'timeout') or '')
    local ttl = default_ttl
    if timeout ~= -1 then ttl = math.floor((timeout ~= 0 and timeout) or default_ttl) + 60 end
    local eid = ARGV[17 + i]
    local composite = id .. ':' .. eid
    local ekey = ARGV[3] .. composite
    redis.call('HSET', ekey, 'id', eid, 'job_id', id, 'created_at', ARGV[6],
               'last_heartbeat', ARGV[6], 'worker_name', ARGV[8])
    redis.call('EXPIRE', ekey, ttl)
    local rkey = ARGV[4] .. id
    redis.call('ZADD', rkey, math.floor(now) + ttl + 60, eid)
    redis.call('EXPIRE', rkey, ttl + 60)
    redis.call('ZADD', KEYS[2], math.floor(now) + tonumber(ARGV[11]), composite)
    redis.call('SADD', KEYS[4], composite)
    redis.call('EXPIRE', KEYS[4], ttl + 60)
    redis.call('HSET', jkey, 'status', 'started', 'started_at', ARGV[7],
               'last_heartbeat', ARGV[7], 'worker_name', ARGV[8])
    redis.call('HDEL', jkey, 'pri')
    redis.call('PERSIST', jkey)
    pc_move(jkey, id, ARGV[10], 'r', 0, '')
    taken[#taken + 1] = id
    taken[#taken + 1] = eid
    taken[#taken + 1] = redis.call('HGETALL', jkey)
    taken[#taken + 1] = redis.call('GET', ARGV[5] .. id)
  end
end
if #taken > 2 then redis.call('HSET', KEYS[3], 'state', 'busy') end
taken[1] = sparse_taken
taken[2] = held_back
return taken
"""
)


@dataclass
class Taken:
    job: Job
    execution: Execution
    envelope: bytes | None


class Suspended(Exception):
    """Workers are suspended (`rq suspend`, or the admin's pause): nothing was taken."""


class CircuitOpen(Exception):
    """The API's circuit is open (`proctoring.breaker`): nothing was taken. `probing`: it is
    half-open and its one probe job is out; the next may be taken as soon as that one ends."""

    def __init__(self, probing: bool = False) -> None:
        super().__init__("probing" if probing else "open")
        self.probing = probing


def _prefix(key: str, placeholder: str) -> str:
    head, sep, _ = key.partition(placeholder)
    if not sep:
        raise RuntimeError(f"unexpected RQ key layout: {key!r}")
    return head


# RQ's execution and executions-registry key prefixes (the job id follows them).
_EXECUTION_PREFIX = _prefix(Execution(id="EXEC", job_id="JOB", connection=None).key, "JOB")  # type: ignore[arg-type]
_EXECUTIONS_REGISTRY_PREFIX = _prefix(ExecutionRegistry.key_template.format("JOB"), "JOB")


@dataclass
class Batch:
    """What one take started, and, in fair order, how many of them were sparse clients' frames
    and whether backlogged clients' frames were left because of the `backlog` limit."""

    taken: list[Taken]
    sparse: int = 0
    held_back: bool = False


def take(
    connection: redis.Redis,
    queue_key: str,
    started_registry_key: str,
    worker_key: str,
    worker_name: str,
    count: int,
    job_class: type[Job] = Job,
    serializer: Any = None,
) -> list[Taken]:
    """Takes up to `count` jobs off the queue and starts an execution of each, as RQ would.

    Raises:
        Suspended: workers are suspended; nothing was taken.
    """
    return take_batch(
        connection, queue_key, started_registry_key, worker_key, worker_name, count, job_class, serializer
    ).taken


def take_batch(
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
    """`take`, in fair order starting at most `backlog` frames of backlogged clients (-1: any
    number), sparse clients' first.

    Raises:
        Suspended: workers are suspended; nothing was taken.
    """
    if count < 1:
        return Batch([])
    started = datetime.now(UTC)
    execution_ids = [uuid4().hex for _ in range(count)]
    answer = connection.eval(
        _TAKE,
        10,
        queue_key,
        started_registry_key,
        worker_key,
        WORKER_EXECUTIONS_KEY_TEMPLATE.format(worker_name),
        WORKERS_SUSPENDED,
        keys.api_circuit_open(),
        keys.api_failures(),
        keys.api_probe(),
        keys.clients_ring(),
        keys.clients_ring_new(),
        count,
        Job.key_for(""),
        _EXECUTION_PREFIX,
        _EXECUTIONS_REGISTRY_PREFIX,
        keys.frame(""),
        repr(started.timestamp()),
        utcformat(started),
        worker_name,
        DEFAULT_WORKER_TTL,
        keys.CLIENT_PREFIX,
        lease_seconds(),
        settings.PROCTORING_BREAKER_THRESHOLD,
        settings.PROCTORING_BREAKER_COOLDOWN,
        "1" if settings.PROCTORING_QUEUE_ORDER == "fair" else "0",
        settings.PROCTORING_FAIR_FLAGGED_WEIGHT,
        enqueue_script.SPARSE_BACKLOG,
        backlog,
        *execution_ids,
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
        execution._job = job
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
        and job.func_name == FRAME_JOB
        and job.result_ttl == 0
        and job._success_callback_name is None
        and not job.webhooks
        and job.repeats_left is None
        and not job.group_id
        and not job.has_rate_limit
        and not job._dependency_ids
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
        ExecutionRegistry.key_template.format(job.id),
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
