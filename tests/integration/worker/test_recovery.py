"""A dead worker's jobs and its scheduler's lock, against a real Redis: a job taken back from a
dead worker is marked and counted, and sent however old (late, never expired); a dead
scheduler's lock is freed for a live one at once, a live scheduler's never
(`proctoring.worker.scheduler_lock`)."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue, policy
from proctoring.queue.rq_queue import ProctoringStartedJobRegistry
from proctoring.store import keys, rq_internals
from proctoring.worker import intake, outcomes, scheduler_lock
from proctoring.worker.scheduling import ProctoringScheduler
from tests.support import jpeg_bytes, stale_count

QUEUE = "proctoring"
NO_SUCH_PID = int(Path("/proc/sys/kernel/pid_max").read_text())  # pids stay below it


def taken_by_a_worker_that_dies(client: str, connection: redis.Redis) -> Job:
    """A frame job taken by a worker whose lease on it then ran out (the worker died), and
    RQ's sweep of abandoned jobs, as the scheduler runs it."""
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    queue = policy.get_queue()
    worker = SimpleWorker([queue], connection=connection, name="doomed")
    worker.register_birth()
    [taken] = intake.take(
        connection, queue.key, queue.started_job_registry.key, worker.key, worker.name, 1
    ).taken
    connection.zadd(queue.started_job_registry.key, {taken.execution.composite_key: 1})  # lease over
    ProctoringStartedJobRegistry(QUEUE, connection=connection).cleanup()
    return Job.fetch(job_id, connection=connection)


@pytest.mark.django_db
def test_a_job_taken_back_from_a_dead_worker_is_counted_and_sent_however_old(
    attempt: Any, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_STORE_RESULTS = False
    job = taken_by_a_worker_that_dies(str(attempt.pk), redis_conn)
    assert job.get_status() == JobStatus.SCHEDULED, "retried, after its backoff"
    assert job.meta[outcomes.RECOVERED] == 1
    assert int(redis_conn.hget(keys.totals(), outcomes.RECOVERED) or 0) == 1
    settings.PROCTORING_MAX_FRAME_AGE = 0.001  # older than that by now: an ordinary frame is late...
    settings.PROCTORING_BACKFILL_HORIZON = 0.001  # ...and expired
    job.perform()
    assert [call.headers["Idempotency-Key"] for call in api.calls] == [job.id], "sent, not cut"
    assert stale_count() == 0


@pytest.mark.django_db
def test_an_ordinary_frame_as_old_is_dropped_past_the_backfill_horizon(
    attempt: Any, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_STORE_RESULTS = False
    client = str(attempt.pk)
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    settings.PROCTORING_MAX_FRAME_AGE = 0.001
    settings.PROCTORING_BACKFILL_HORIZON = 0.001
    time.sleep(0.01)  # age, not synchronisation: a warm process would take it within the 1 ms horizon
    Job.fetch(job_id, connection=redis_conn).perform()
    assert api.calls == [] and stale_count() == 1


def held_by(connection: redis.Redis, *, silent_for: float, hostname: str | None, pid: int | None) -> str:
    """The queue's lock held by a scheduler last heard of `silent_for` seconds ago, whose hash
    names `hostname` and `pid` (no hash when `hostname` is None)."""
    holder = "0123abcd"
    ttl = rq_internals.SCHEDULER_LOCK_TTL - silent_for
    connection.set(RQScheduler.get_locking_key(QUEUE), holder, px=int(ttl * 1000))
    if hostname is not None:
        connection.hset(f"rq:scheduler:{holder}", mapping={"hostname": hostname, "pid": str(pid)})
    return holder


def owner(connection: redis.Redis) -> str | None:
    lock = rq_internals.scheduler_lock(connection, QUEUE)
    return lock.holder if lock is not None else None


@pytest.mark.parametrize(
    "holder",
    [
        {"hostname": None, "pid": None},  # its record expired or its death was recorded
        {"hostname": socket.gethostname(), "pid": NO_SUCH_PID},  # its process is gone from this host
    ],
    ids=["record-gone", "process-gone"],
)
def test_a_dead_schedulers_lock_is_freed_and_a_new_scheduler_takes_it_at_once(
    holder: dict[str, Any], redis_conn: redis.Redis
) -> None:
    held_by(redis_conn, silent_for=scheduler_lock.SILENT_SECONDS + 1, **holder)
    assert scheduler_lock.free_if_dead(redis_conn, [QUEUE]) == [QUEUE]
    successor = ProctoringScheduler([QUEUE], connection=redis_conn)
    assert successor.acquire_locks() == {QUEUE}
    assert owner(redis_conn) == successor.name


@pytest.mark.parametrize(
    "holder",
    [
        {"silent_for": 60.0, "hostname": socket.gethostname(), "pid": os.getpid()},  # its process runs
        {"silent_for": 0.5, "hostname": None, "pid": None},  # just took the lock, no record yet
        {"silent_for": 0.2, "hostname": socket.gethostname(), "pid": NO_SUCH_PID},  # beats: another
        {"silent_for": 50.0, "hostname": "another-host", "pid": NO_SUCH_PID},  # left to its TTL
    ],
    ids=["process-runs", "starting", "heartbeating", "another-host"],
)
def test_a_lock_whose_holder_may_be_alive_is_never_taken(
    holder: dict[str, Any], redis_conn: redis.Redis
) -> None:
    name = held_by(redis_conn, **holder)
    assert scheduler_lock.free_if_dead(redis_conn, [QUEUE]) == []
    assert ProctoringScheduler([QUEUE], connection=redis_conn).acquire_locks() == set()
    assert owner(redis_conn) == name


def test_a_live_scheduler_is_read_as_rq_writes_it_and_keeps_its_lock(redis_conn: redis.Redis) -> None:
    """RQ's own layout (`rq_internals.scheduler_lock`): the lock names the scheduler, whose hash
    says where it runs; one that beats is never judged dead."""
    live = ProctoringScheduler([QUEUE], connection=redis_conn)
    assert live.acquire_locks() == {QUEUE}
    live.register_birth()
    live.heartbeat()
    lock = rq_internals.scheduler_lock(redis_conn, QUEUE)
    assert lock is not None
    assert (lock.holder, lock.hostname, lock.pid) == (live.name, socket.gethostname(), os.getpid())
    assert lock.silent_for < 1
    assert scheduler_lock.free_if_dead(redis_conn, [QUEUE]) == []
    live.heartbeat()
    assert live.acquired_locks == {QUEUE}
    assert rq_internals.scheduler_lock(redis_conn, "elsewhere") is None


@pytest.mark.django_db
def test_jobs_taken_back_from_dead_workers_are_shown_wherever_stale_frames_are(
    attempt: Any, redis_conn: redis.Redis, staff_client: Any
) -> None:
    taken_by_a_worker_that_dies(str(attempt.pk), redis_conn)
    assert 'outcome="recovered"} 1.0' in staff_client.get("/metrics").content.decode()
    assert staff_client.get("/admin/proctoring/queue/stats.json").json()["queue"]["recovered"] == 1
    assert 'data-figure="recovered">1<' in staff_client.get("/admin/proctoring/queue/").content.decode()
    table = io.StringIO()
    call_command("proctoring_stats", stdout=table)
    assert "taken back from dead workers 1" in table.getvalue()
