"""Taking frame jobs off the queue in batches: several jobs started in one round trip.

A stock RQ worker makes about twenty Redis round trips per job (dequeue, fetch, the execution
record, the started registry, heartbeats, success bookkeeping and `Job.delete`, which reads the
job's executions back before deleting them). With the API's wait spread over many threads, those
round trips, not the API, are what a worker process spends its CPU on. Here the records of a
job's start are written, in RQ's own keys and shapes, by one Lua script per batch (`take`), so
that RQ's registries, django-rq's pages, `rqstats`, RQ's failure and retry handling and its
abandoned-job cleanup all see exactly what they would with RQ's worker. The success side is
`proctoring.worker.successes`; the leases of taken jobs, `proctoring.worker.leases`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import redis
from django.conf import settings
from rq.defaults import DEFAULT_WORKER_TTL
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution
from rq.job import Job
from rq.serializers import resolve_serializer
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import str_to_date, utcformat

from proctoring.queue import fairness, lateness
from proctoring.store import keys, rq_internals, scripts
from proctoring.worker.leases import lease_seconds


@dataclass
class Taken:
    job: Job
    execution: Execution
    envelope: bytes | None
    # The pauses as the take read them, for the frame's age (`lateness.age_of`); None: not read.
    pauses: lateness.Pauses | None = None


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
_EXECUTION_TEMPLATE = _EXECUTION_PREFIX + keys.PLACEHOLDER  # by "<job id>:<execution id>"
_EXECUTIONS_TEMPLATE = _EXECUTIONS_REGISTRY_PREFIX + keys.PLACEHOLDER


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
    pauses = _read_pauses(connection)
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
        backlogged_ring=keys.clients_ring_backlogged(),
        sparse_ring=keys.clients_ring_sparse(),
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
        job_template=rq_internals.JOB_TEMPLATE,
        execution_template=_EXECUTION_TEMPLATE,
        executions_template=_EXECUTIONS_TEMPLATE,
        frame_template=keys.FRAME_TEMPLATE,
        waiting_template=keys.WAITING_TEMPLATE,
        priority_template=keys.PRIORITY_TEMPLATE,
        counts_template=keys.COUNTS_TEMPLATE,
        failed_template=keys.FAILED_TEMPLATE,
        kind_template=keys.KIND_TEMPLATE,
        live_since=_live_since(connection, started.timestamp(), pauses),
        pending_template=keys.PENDING_TEMPLATE,
        execution_ids=execution_ids,
    )
    if answer == [-1]:
        if not _saw_pause.is_set():
            lateness.note_paused(connection, started.timestamp())
            _saw_pause.set()
        raise Suspended()
    if _saw_pause.is_set():  # the pause is over: the frames' clock runs again
        _saw_pause.clear()
        lateness.note_running(connection, started.timestamp())
        pauses = _read_pauses(connection)  # with the pause just ended, for the frames' ages
    if answer == [-2]:
        raise CircuitOpen()
    if answer == [-3]:
        raise CircuitOpen(probing=True)
    sparse, held_back = answer[0], answer[1]
    taken: list[Taken] = []
    # RQ checks a serializer it is given against its protocol on every job it makes (a slow
    # isinstance); its default it takes as is.
    if serializer is _DEFAULT_SERIALIZER:
        serializer = None
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
        taken.append(Taken(job, execution, envelope if isinstance(envelope, bytes) else None, pauses))
    return Batch(taken, sparse, bool(held_back))


def _read_pauses(connection: redis.Redis) -> lateness.Pauses | None:
    """Every pause kept, read once per take for its order and for the ages of the frames it
    takes (one round trip, not one more per frame); None with no live window, where a frame's
    age decides nothing."""
    if not settings.PROCTORING_MAX_FRAME_AGE:
        return None
    return lateness.read_pauses(connection)


def _live_since(connection: redis.Redis, now: float, pauses: lateness.Pauses | None) -> str:
    """The receive time from which a waiting frame is live, for the take's order ("0": every
    frame is, with no live window)."""
    if pauses is None:
        return "0"
    return repr(lateness.live_since(connection, now, pauses))


_DEFAULT_SERIALIZER = resolve_serializer(None)

# Set while this process sees the workers paused (`lateness.note_paused`): time paused does not
# count toward a frame's age.
_saw_pause = threading.Event()

# RQ parses these with strptime, a visible share of a busy worker's CPU; `fromisoformat` reads
# RQ's format directly (RQ's own parser takes anything it does not).
_DATE_FIELDS = (b"created_at", b"enqueued_at", b"started_at", b"ended_at", b"last_heartbeat")


def _parse_date(value: bytes) -> datetime:
    """RQ's timestamp format ("2026-11-29T06:03:54.123456Z"), read as RQ reads it."""
    try:
        return datetime.fromisoformat(value.decode())
    except ValueError:
        parsed: datetime = str_to_date(value)
        return parsed
