"""`proctoring.worker.intake` and `proctoring.worker.successes` write, in batches, what RQ's worker
writes when it starts a job and when a job kept 0 s succeeds. RQ's own APIs, and a stock
`SimpleWorker` doing the same, are the judge.

Here the tests that need no process;
the others are in tests/processes/worker/test_lifecycle.py."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from rq import Callback, SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.suspension import resume, suspend
from rq.utils import as_text

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import freshness, policy
from proctoring.store import keys
from proctoring.worker import intake, job_context, leases, outcomes, successes
from tests.support import jpeg_bytes

LEFTOVER_PATTERNS = ("rq:job:*", "rq:execution:*", "rq:executions:*")


def enqueue(client: str, count: int) -> list[str]:
    frame = parse_image(jpeg_bytes(), 1 << 20)
    return [enqueuing.enqueue_frame(client, client, seq, frame) for seq in range(1, count + 1)]


def born(queue: Queue, name: str) -> SimpleWorker:
    """A registered stock RQ worker: its hash is where the taken jobs are booked."""
    worker = SimpleWorker([queue], connection=queue.connection, name=name)
    worker.register_birth()
    return worker


def take(worker: SimpleWorker, queue: Queue, count: int) -> list[intake.Taken]:
    keys_ = (queue.key, queue.started_job_registry.key, worker.key)
    return intake.take(queue.connection, *keys_, worker.name, count).taken


def start_as_rq_does(worker: SimpleWorker, queue: Queue) -> tuple[Job, Execution]:
    """What a stock SimpleWorker does with the next job: dequeue, prepare_execution, then
    prepare_job_execution (which also empties the intermediate queue)."""
    dequeued = Queue.dequeue_any([queue], None, connection=queue.connection)
    assert dequeued is not None
    job = dequeued[0]
    execution = worker.prepare_execution(job)
    worker.prepare_job_execution(job, remove_from_intermediate_queue=True)
    return job, execution


def stored_hash(connection: redis.Redis, key: str) -> dict[str, bytes | str]:
    return {as_text(field): value for field, value in connection.hgetall(key).items()}


def leftovers(connection: redis.Redis) -> list[bytes]:
    return [key for pattern in LEFTOVER_PATTERNS for key in connection.scan_iter(pattern)]


def worker_index(connection: redis.Redis, name: str) -> set[str]:
    return {as_text(member) for member in connection.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(name))}


@pytest.mark.django_db
def test_taken_jobs_look_started_to_rq(attempt: Any, redis_conn: redis.Redis) -> None:
    job_ids = enqueue(str(attempt.pk), 3)
    queue = policy.get_queue()
    worker = born(queue, "taker")
    before = time.time()

    taken = take(worker, queue, 3)

    assert [item.job.id for item in taken] == job_ids, "taken in queue order"
    assert queue.get_job_ids() == [] and redis_conn.llen(queue.key) == 0
    assert redis_conn.llen(queue.intermediate_queue_key) == 0, "nothing parked in the intermediate queue"
    registry = StartedJobRegistry(queue=queue)
    assert sorted(registry.get_job_ids()) == sorted(job_ids)
    pairs = sorted((item.job.id, item.execution.id) for item in taken)
    assert sorted(registry.get_job_and_execution_ids()) == pairs
    hydrated = Worker.find_by_key(worker.key, connection=redis_conn)
    assert hydrated is not None and hydrated.get_state() == "busy"
    composite_keys = {item.execution.composite_key for item in taken}
    assert {e.composite_key for e in hydrated.get_current_executions(refresh=True)} == composite_keys
    assert worker_index(redis_conn, worker.name) == composite_keys
    for item in taken:
        job = Job.fetch(item.job.id, connection=redis_conn)
        assert job.get_status() == JobStatus.STARTED
        assert job.worker_name == "taker"
        assert job.started_at is not None and abs(job.started_at.timestamp() - before) < 5
        assert redis_conn.ttl(job.key) == -1, "a started job does not expire"
        assert [execution.id for execution in job.get_executions()] == [item.execution.id]
        stored = Execution.fetch(item.execution.id, job.id, connection=redis_conn)
        assert (stored.job_id, stored.worker_name) == (job.id, "taker")
        assert abs(stored.created_at.timestamp() - before) < 5
        assert abs(stored.created_at - item.execution.created_at) < timedelta(milliseconds=1)
        assert item.envelope == redis_conn.get(keys.frame(job.id)), "the envelope is the frame key's bytes"
        assert (item.job.func_name, item.job.timeout) == (policy.FRAME_JOB, policy.job_timeout())


@pytest.mark.django_db
def test_take_returns_only_what_is_queued_and_skips_deleted_jobs(
    attempt: Any, redis_conn: redis.Redis
) -> None:
    first, deleted, bare, last = enqueue(str(attempt.pk), 4)
    redis_conn.delete(Job.key_for(deleted))
    redis_conn.delete(keys.frame(bare))
    queue = policy.get_queue()
    worker = born(queue, "taker")

    assert take(worker, queue, 0) == []
    assert redis_conn.llen(queue.key) == 4, "taking nothing leaves the queue alone"
    taken = take(worker, queue, 10)

    assert [item.job.id for item in taken] == [first, bare, last]
    assert [item.envelope is None for item in taken] == [False, True, False]
    assert redis_conn.llen(queue.key) == 0, "the deleted job's id is consumed, not left behind"
    assert deleted not in StartedJobRegistry(queue=queue).get_job_ids()
    assert ExecutionRegistry(deleted, connection=redis_conn).get_execution_ids() == []
    assert not list(redis_conn.scan_iter(f"rq:execution:{deleted}:*"))
    assert not redis_conn.exists(Job.key_for(deleted)), "nothing recreated the deleted job's hash"
    assert len(worker_index(redis_conn, worker.name)) == 3
    assert take(worker, queue, 5) == []


@pytest.mark.django_db
def test_take_takes_nothing_while_workers_are_suspended(attempt: Any, redis_conn: redis.Redis) -> None:
    job_ids = enqueue(str(attempt.pk), 2)
    queue = policy.get_queue()
    worker = born(queue, "taker")
    suspend(redis_conn)
    with pytest.raises(intake.Suspended):
        take(worker, queue, 2)
    assert queue.get_job_ids() == job_ids
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    resume(redis_conn)
    assert [item.job.id for item in take(worker, queue, 2)] == job_ids


@pytest.mark.django_db
def test_take_writes_what_a_stock_simple_worker_writes(attempt: Any, redis_conn: redis.Redis) -> None:
    ours_id, theirs_id = enqueue(str(attempt.pk), 2)
    queue = policy.get_queue()
    [ours] = take(born(queue, "taker"), queue, 1)
    theirs, their_execution = start_as_rq_does(born(queue, "reference"), queue)
    assert theirs.id == theirs_id
    now = time.time()

    our_job, their_job = stored_hash(redis_conn, Job.key_for(ours_id)), stored_hash(redis_conn, theirs.key)
    assert our_job.keys() == their_job.keys()
    same = {"status", "origin", "timeout", "result_ttl", "failure_ttl", "data", "retries_left"}
    assert {name: our_job.get(name) for name in same} == {name: their_job.get(name) for name in same}
    assert our_job["status"] == b"started"
    assert (our_job["worker_name"], their_job["worker_name"]) == (b"taker", b"reference")
    assert redis_conn.ttl(Job.key_for(ours_id)) == redis_conn.ttl(theirs.key) == -1

    our_exec, their_exec = ours.execution, their_execution
    assert stored_hash(redis_conn, our_exec.key).keys() == stored_hash(redis_conn, their_exec.key).keys()
    started = StartedJobRegistry(queue=queue).key
    for execution in (our_exec, their_exec):
        # Every record's lifetime derives from the execution's TTL exactly as in RQ's code.
        ttl = redis_conn.ttl(execution.key)
        assert ttl > policy.job_timeout(), "the execution outlives the job's timeout"
        executions_key = ExecutionRegistry(execution.job_id, connection=redis_conn).key
        assert abs(redis_conn.ttl(executions_key) - (ttl + 60)) <= 2
        score = redis_conn.zscore(executions_key, execution.id)
        assert score is not None and abs(score - (now + ttl + 60)) <= 2
        # RQ holds a job in the started registry for its execution's TTL; we for its lease,
        # which its worker renews while it runs (so a dead worker's job is retried sooner).
        held = leases.lease_seconds() if execution is our_exec else ttl
        score = redis_conn.zscore(started, execution.composite_key)
        assert score is not None and abs(score - (now + held)) <= 2
        assert execution.composite_key in worker_index(redis_conn, execution.worker_name)
    assert redis_conn.llen(queue.intermediate_queue_key) == 0
    assert redis_conn.hget(Worker.redis_worker_namespace_prefix + "taker", "state") == b"busy"


@pytest.mark.django_db
def test_a_taken_job_is_held_for_its_lease_renewed_by_its_worker_and_its_execution_kept_for_its_timeout(
    attempt: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_API_TIMEOUT = 120  # job timeout 150 s
    enqueue(str(attempt.pk), 2)
    queue = policy.get_queue()
    reference = born(queue, "reference")
    [ours] = take(born(queue, "taker"), queue, 1)
    theirs, their_execution = start_as_rq_does(reference, queue)
    timeout = policy.job_timeout()
    assert ours.job.timeout == theirs.timeout == timeout == 150
    within_timeout = time.time() + timeout - 5
    registry = StartedJobRegistry(queue=queue)
    assert theirs.id not in registry.get_expired_job_ids(within_timeout), "the stock worker's job"
    assert redis_conn.ttl(their_execution.key) == reference.get_heartbeat_ttl(theirs)

    lease = leases.lease_seconds()
    assert ours.job.id not in registry.get_expired_job_ids(time.time() + lease - 2), "abandoned too soon"
    assert ours.job.id in registry.get_expired_job_ids(time.time() + lease + 2), "held past its lease"
    held = leases.Leases(redis_conn)
    try:
        held.hold(ours.execution.composite_key, registry.key)
        redis_conn.zadd(registry.key, {ours.execution.composite_key: 1})  # as if about to run out
        held.renew()
    finally:
        held.close()
    assert ours.job.id not in registry.get_expired_job_ids(time.time() + lease - 2), "renewed"
    our_ttl, stock_ttl = redis_conn.ttl(ours.execution.key), reference.get_heartbeat_ttl(ours.job)
    assert our_ttl >= stock_ttl - 2, f"execution kept {our_ttl} s, a stock SimpleWorker keeps {stock_ttl} s"


@pytest.mark.django_db
def test_finisher_removes_a_batch_of_successes_as_rq_does(attempt: Any, redis_conn: redis.Redis) -> None:
    client = str(attempt.pk)
    job_ids = enqueue(client, 4)
    queue = policy.get_queue()
    worker, reference = born(queue, "taker"), born(queue, "reference")
    taken = take(worker, queue, 3)
    theirs, their_execution = start_as_rq_does(reference, queue)

    finisher = successes.Finisher(redis_conn, worker.key)
    for item in taken:
        job_context.begin_job(item.job.id, item.envelope)
        assert outcomes.load_frame(item.job.id) is not None
        outcomes.finish_delivered(client, item.job.id)
        writes = job_context.end_job()
        assert redis_conn.exists(keys.frame(item.job.id)), "the job's own writes wait for its success"
        assert item.job.started_at is not None
        item.job.ended_at = item.job.started_at + timedelta(seconds=0.5)
        assert successes.is_batchable(item.job, None)
        finisher.add(successes.Succeeded(item.job, item.execution, queue.started_job_registry.key, writes))
    # The same success, recorded by RQ's own code for the fourth job.
    assert theirs.started_at is not None
    theirs.ended_at = theirs.started_at + timedelta(seconds=0.5)
    reference.handle_job_success(theirs, queue, queue.started_job_registry, their_execution)
    finisher.close()

    assert finisher.completed == 3
    for job_id in job_ids:
        with pytest.raises(NoSuchJobError):
            Job.fetch(job_id, connection=redis_conn)
        assert not redis_conn.exists(ExecutionRegistry(job_id, connection=redis_conn).key)
        assert not list(redis_conn.scan_iter(f"rq:execution:{job_id}:*"))
    for item in taken:
        with pytest.raises(ValueError, match="not found"):
            Execution.fetch(item.execution.id, item.job.id, connection=redis_conn)
        assert not redis_conn.exists(keys.frame(item.job.id)), "its deferred writes ran"
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert worker_index(redis_conn, "taker") == worker_index(redis_conn, "reference") == set()
    assert redis_conn.zrange(keys.client_pending(client), 0, -1) == [theirs.id.encode()]
    assert leftovers(redis_conn) == []
    ours = Worker.find_by_key(worker.key, connection=redis_conn)
    stock = Worker.find_by_key(reference.key, connection=redis_conn)
    assert ours is not None and stock is not None
    assert (ours.successful_job_count, stock.successful_job_count) == (3, 1)
    assert ours.total_working_time == pytest.approx(1.5)
    assert stock.total_working_time == pytest.approx(0.5)


@pytest.mark.django_db
def test_a_batch_of_successes_writes_its_frames_times_once_per_client(
    attempt: Any, redis_conn: redis.Redis
) -> None:
    client = str(attempt.pk)
    enqueue(client, 5)
    queue = policy.get_queue()
    worker = born(queue, "taker")
    taken = take(worker, queue, 5)
    assert len(taken) == 5
    finisher = successes.Finisher(redis_conn, worker.key)
    redis_conn.config_resetstat()
    for index, item in enumerate(taken):
        job_context.begin_job(item.job.id, item.envelope)
        outcomes.finish_delivered(client, item.job.id, times=(1.0 + index / 2, 210.0, 240.0 + index))
        item.job.ended_at = item.job.started_at
        finisher.add(
            successes.Succeeded(
                item.job, item.execution, queue.started_job_registry.key, job_context.end_job()
            )
        )
    finisher.close()

    assert finisher.completed == 5
    assert redis_conn.hgetall(keys.client_times(client)) == {
        b"wait:5": b"5",
        b"run:250": b"5",
        b"age:250": b"5",
    }
    ranges = redis_conn.zrange(keys.client_times_range(client), 0, -1, withscores=True)
    waits = freshness.read_ranges(dict(ranges), "wait:")  # type: ignore[arg-type]
    assert waits == {"5": (1.0, 3.0)}
    calls = {name: entry["calls"] for name, entry in redis_conn.info("commandstats").items()}
    assert calls.get("cmdstat_zadd") == 2, "the batch's least and greatest times, one ZADD each"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "return_value", "batchable"),
    [
        ({}, None, True),
        ({}, {"flags": []}, False),
        ({"on_success": Callback("os.getpid")}, None, False),
        ({"result_ttl": 500}, None, False),
        ({"result_ttl": -1}, None, False),
        ({"func": "os.getcwd"}, None, False),
    ],
    ids=["frame-job", "returns-a-value", "success-callback", "result-kept", "result-forever", "other-func"],
)
def test_is_batchable(
    redis_conn: redis.Redis, changes: dict[str, Any], return_value: Any, batchable: bool
) -> None:
    queue = policy.get_queue()
    options: dict[str, Any] = {"result_ttl": 0, "timeout": 40, "on_failure": Callback("os.getpid")}
    options.update(changes)
    job = queue.create_job(options.pop("func", policy.FRAME_JOB), **options)
    job.save()
    stored = Job.fetch(job.id, connection=redis_conn)  # restored from Redis, as `take` does
    assert successes.is_batchable(stored, return_value) is batchable
