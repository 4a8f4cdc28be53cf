"""Per-client counts (proctoring/queue/counters.py) against a scan of RQ's real queue and registries,
through every transition a frame job makes: with a real worker process, and as a property over
random sequences of operations run by the worker's own code in this process.

Here the tests that start real processes;
the others are in tests/integration/queue/test_counters.py."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.utils import parse_composite_key

from exams.models import Attempt, Exam
from proctoring.core.exceptions import RateLimited
from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.ops import failed_jobs
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.results import writer as results
from proctoring.store import keys
from proctoring.store.connections import get_redis
from proctoring.worker import intake, successes
from proctoring.worker.scheduling import ProctoringScheduler
from proctoring.worker.workers import ProctoringWorker
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

STATES = ("queued", "running", "retrying", "failed")
FRAME = jpeg_bytes(32, 24)


@pytest.fixture
def clients(user: Any, exam: Exam) -> list[str]:
    """Three exam attempts; a client is an attempt (results are stored against it)."""
    return [str(Attempt.objects.create(user=user, exam=exam).pk) for _ in range(3)]


def enqueue(client: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(FRAME, 1 << 20))


def scan(connection: redis.Redis) -> dict[str, Counter[str]]:
    """What RQ's own structures say, job by job: the truth the counts must equal."""
    queue = policy.get_queue()
    found: dict[str, list[str]] = {
        "queued": [member.decode() for member in _members(connection.lrange(queue.key, 0, -1))],
        "running": [
            parse_composite_key(member.decode())[0]
            for member in _members(connection.zrange(queue.started_job_registry.key, 0, -1))
        ],
        "retrying": ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False),
        "failed": FailedJobRegistry(queue=queue).get_job_ids(cleanup=False),
    }
    truth: dict[str, Counter[str]] = {}
    for state, job_ids in found.items():
        for job_id, job in zip(job_ids, Job.fetch_many(job_ids, connection=connection), strict=True):
            # A running worker may finish (and delete) a job between the two reads: not settled.
            assert job is not None, f"job {job_id} vanished during the scan"
            client = counters.client_of(job)
            assert client is not None
            truth.setdefault(client, Counter())[state] += 1
    return truth


def _members(answer: Any) -> list[bytes]:
    return list(answer)


def counted(clients: list[str]) -> dict[str, Counter[str]]:
    figures = counters.read(clients)
    return {
        client: Counter({state: figures[client][state] for state in STATES if figures[client][state]})
        for client in clients
        if any(figures[client][state] for state in STATES)
    }


def assert_exact(connection: redis.Redis, clients: list[str]) -> None:
    truth = scan(connection)
    assert counted(clients) == truth
    for client in clients:
        live = sum(truth.get(client, Counter())[state] for state in ("queued", "running", "retrying"))
        assert connection.zcard(keys.client_pending(client)) == live, f"pending set of {client}"


def settled(connection: redis.Redis, clients: list[str]) -> bool:
    try:
        assert_exact(connection, clients)
    except AssertionError:
        return False
    return True


@pytest.mark.slow
def test_counts_follow_a_real_worker_through_every_transition(
    api: RecordingApi, start_worker: Any, redis_conn: redis.Redis, clients: list[str]
) -> None:
    a, b = clients[:2]
    clients = [a, b]
    for seq in range(3):
        enqueue(a, seq)
    enqueue(b, 0)
    assert counted(clients) == {a: Counter(queued=3), b: Counter(queued=1)}
    assert_exact(redis_conn, clients)
    assert counters.clients() == [b, a]  # most recent frame first

    start_worker()
    wait_until(lambda: FrameResult.objects.count() == 4, 30, "four delivered")

    def completed() -> tuple[int, int]:
        figures = counters.read(clients)
        return figures[a]["completed_today"], figures[b]["completed_today"]

    # A success is recorded just after its result is committed: wait for the counts to move.
    wait_until(lambda: completed() == (3, 1), 10, "counted completed")
    wait_until(lambda: settled(redis_conn, clients), 10, "counts settle")

    # An attempt that fails and is retried later: waiting to retry, then delivered.
    api.script(Reply(503, {"error": "busy"}), Reply(200))
    retried = enqueue(a, 10)
    wait_until(lambda: len(ScheduledJobRegistry(queue=policy.get_queue())) == 1, 20, "retry scheduled")
    assert counters.read(clients)[a]["retrying"] == 1
    assert_exact(redis_conn, clients)
    wait_until(lambda: FrameResult.objects.filter(job_id=retried).exists(), 20, "delivered on retry")
    wait_until(lambda: settled(redis_conn, clients), 10, "counts settle")

    # A final failure, then our retry (same job id), then RQ's own requeue, then a delete. The
    # retried frames fail by an outage (every attempt a 503): a refused frame keeps no image.
    outage = [Reply(503, {"error": "down"})] * 3
    api.script(*outage)
    failed = enqueue(b, 11)
    wait_until(lambda: failed in FailedJobRegistry(queue=policy.get_queue()), 20, "failed")
    wait_until(lambda: settled(redis_conn, clients), 10, "counts settle")
    assert counters.read(clients)[b]["failed"] == 1
    api.script(Reply(200))
    assert failed_jobs.retry(failed)
    wait_until(lambda: FrameResult.objects.filter(job_id=failed).exists(), 20, "delivered after retry")
    wait_until(lambda: settled(redis_conn, clients), 10, "counts settle")
    assert counters.read(clients)[b]["failed"] == 0

    api.script(*outage)
    requeued = enqueue(a, 12)
    wait_until(lambda: requeued in FailedJobRegistry(queue=policy.get_queue()), 20, "failed")
    api.script(Reply(200))
    FailedJobRegistry(queue=policy.get_queue()).requeue(requeued)  # RQ's own, not ours
    wait_until(lambda: FrameResult.objects.filter(job_id=requeued).exists(), 20, "delivered after requeue")
    wait_until(lambda: settled(redis_conn, clients), 10, "counts caught up at the job's next transition")

    api.script(Reply(422, {"error": "not a face"}))
    doomed = enqueue(b, 13)
    wait_until(lambda: doomed in FailedJobRegistry(queue=policy.get_queue()), 20, "failed")
    assert failed_jobs.delete(doomed)
    assert not redis_conn.exists(Job.key_for(doomed), keys.frame(doomed))
    assert_exact(redis_conn, clients)
    figures = counters.read(clients)
    assert figures[a]["completed_today"] == 5 and figures[b]["completed_today"] == 2
    assert not failed_jobs.retry(doomed) and not failed_jobs.delete(doomed)


# --- The same, as a property over random sequences, run in this process ----------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["enqueue", "enqueue_priority", "enqueue_delayed"]), st.integers(0, 2)),
        st.tuples(st.sampled_from(["deliver", "fail_retry", "fail_final"]), st.just(0)),
        st.tuples(st.sampled_from(["due", "retry_failed", "delete_failed", "requeue_rq"]), st.just(0)),
        st.tuples(st.sampled_from(["delete_queued_behind", "delete_failed_behind"]), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)
REPLIES = {"deliver": Reply(200), "fail_retry": Reply(503, "busy"), "fail_final": Reply(422, "no")}


class InProcessWorker:
    """The worker's own take, run and record steps, one job at a time, in this process."""

    def __init__(self) -> None:
        # Its own client: a worker gives its client a pool sized for its threads.
        self.connection = redis.Redis.from_url(django_settings.REDIS_URL)
        self.queue = policy.get_queue()
        self.worker = ProctoringWorker([self.queue], connection=self.connection, concurrency=1)
        self.worker.register_birth()

    def run_one(self) -> bool:
        taken = intake.take(
            self.connection,
            self.queue.key,
            self.queue.started_job_registry.key,
            self.worker.key,
            self.worker.name,
            1,
        ).taken
        if not taken:
            return False
        finisher = successes.Finisher(self.connection, self.worker.key)
        self.worker._finisher = finisher
        self.worker._run_job(taken[0], self.queue)
        results.wait_written(30)  # a success is handed to the finisher once its answer is stored
        finisher.close()
        return True

    def close(self) -> None:
        self.worker.register_death()
        self.worker._pool.shutdown()
        self.connection.close()
        self.connection.connection_pool.disconnect()

    def make_retries_due(self) -> None:
        registry = ScheduledJobRegistry(queue=self.queue)
        for job_id in registry.get_job_ids(cleanup=False):
            self.connection.zadd(registry.key, {job_id: 0}, xx=True)
        scheduler = ProctoringScheduler([self.queue], connection=self.connection)
        scheduler.acquire_locks()
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()


@pytest.mark.slow
@pytest.mark.timeout(600)
@hsettings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_counts_stay_exact_over_random_operations(
    api: RecordingApi, clients: list[str], operations: list[tuple[str, int]]
) -> None:
    connection = get_redis()
    connection.flushdb()
    worker = InProcessWorker()
    try:
        run(worker, api, clients, operations, connection)
    finally:
        worker.close()


def run(
    worker: InProcessWorker,
    api: RecordingApi,
    clients: list[str],
    operations: list[tuple[str, int]],
    connection: redis.Redis,
) -> None:
    failed_registry = FailedJobRegistry(queue=worker.queue)
    for seq, (operation, client) in enumerate(operations):
        if operation.startswith("enqueue"):
            options: dict[str, dict[str, Any]] = {
                "enqueue_priority": {"priority": True},
                "enqueue_delayed": {"delay": 60},
            }
            frame = parse_image(FRAME, 1 << 20)
            try:
                enqueuing.enqueue_frame(
                    clients[client], clients[client], seq, frame, **options.get(operation, {})
                )
            except RateLimited:
                pass  # refused whole: nothing written, nothing counted (checked below)
        elif operation.endswith("_behind"):
            # What django-rq's pages do: RQ's own delete, which our counts do not hear of;
            # the scheduler's periodic reconcile puts them right.
            source = worker.queue.get_job_ids() if operation == "delete_queued_behind" else None
            source = source if source is not None else failed_registry.get_job_ids(cleanup=False)
            if source:
                Job.fetch(source[0], connection=connection).delete()
                assert counters.reconcile(clients) == 1, "one client's counts had drifted"
        elif operation in REPLIES:
            api.script(REPLIES[operation])
            worker.run_one()
        elif operation == "due":
            worker.make_retries_due()
        elif failed_registry.get_job_ids(cleanup=False):
            job_id = failed_registry.get_job_ids(cleanup=False)[0]
            if operation == "retry_failed":
                assert failed_jobs.retry(job_id)
            elif operation == "delete_failed":
                assert failed_jobs.delete(job_id)
            else:
                # RQ's own requeue, to the front so that it is the next taken: the counts
                # catch up when it is taken.
                failed_registry.requeue(job_id, at_front=True)
                api.script(Reply(200))
                assert worker.run_one()
        assert_exact(connection, clients)
        assert counters.reconcile(clients) == 0, "exact counts are left alone"


# --- Putting drifted counts right ------------------------------------------------------------


@pytest.mark.slow
def test_the_workers_scheduler_puts_counts_right_by_itself(
    start_worker: Any, redis_conn: redis.Redis, clients: list[str]
) -> None:
    from rq.suspension import suspend

    suspend(redis_conn)  # nothing is taken: the queued jobs stay put
    job_ids = [enqueue(clients[0], seq) for seq in range(3)]
    Job.fetch(job_ids[0], connection=redis_conn).delete()  # as django-rq's page does
    assert counters.read(clients[:1])[clients[0]]["queued"] == 3, "drifted"
    worker = start_worker(PROCTORING_RECONCILE_SECONDS="1")
    wait_until(lambda: counters.read(clients[:1])[clients[0]]["queued"] == 2, 15, "counts put right")
    assert redis_conn.zcard(keys.client_pending(clients[0])) == 2
    wait_until(lambda: "1 client(s) had drifted" in worker.log(), 10, "logged")
