"""The cut split in two (proctoring/queue/lateness.py): a frame past its live window is sent late
(marked so to the API and on its stored row), one past the backfill horizon is dropped and
recorded; an operator's retry and a pause are never undone by it. Issue 19, items 1-3."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job
from rq.suspension import resume, suspend

from exams.models import Attempt
from proctoring.core.exceptions import ApiError, ApiUnavailable, RateLimited
from proctoring.core.frames import parse_image
from proctoring.live import dashboard
from proctoring.models import FrameResult
from proctoring.ops import failed_jobs
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import freshness, lateness, metrics, policy
from proctoring.store import keys, rq_internals
from proctoring.worker import intake, job_context, outcomes
from tests.support import jpeg_bytes, stale_count

pytestmark = pytest.mark.django_db(transaction=True)

FRAME = parse_image(jpeg_bytes(), 1 << 20)


@pytest.fixture(autouse=True)
def cut(settings: Any) -> None:
    settings.PROCTORING_JOB_ATTEMPTS = 1  # an outage fails a frame for good at once
    settings.PROCTORING_MAX_FRAME_AGE = 0.001  # every frame is past its live window by the time it runs
    settings.PROCTORING_BACKFILL_HORIZON = 900


def enqueue(attempt: Attempt, seq: int = 1) -> str:
    return enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, FRAME)


def fail_for_an_outage(attempt: Attempt, connection: redis.Redis) -> str:
    """A frame finally failed through RQ's failure path after an outage (its image kept)."""
    job_id = enqueue(attempt)
    queue = policy.get_queue()
    worker = SimpleWorker([queue], connection=connection, name=f"fail-{job_id}")
    worker.register_birth()
    [taken] = intake.take(
        connection, queue.key, queue.started_job_registry.key, worker.key, worker.name, 1
    ).taken
    try:
        raise ApiUnavailable("the API answered 503", status=503)
    except ApiError:
        rq_internals.finalize_failure(worker, taken.job, queue, taken.execution, sys.exc_info())
    return job_id


def test_a_frame_past_its_live_window_is_sent_late_and_stored_late(
    attempt: Attempt, api: Any, redis_conn: redis.Redis
) -> None:
    metrics.recorder.take()  # what earlier tests observed in this process, not flushed
    job_id = enqueue(attempt)
    time.sleep(0.01)  # age, not synchronisation: a warm process would send it within the 1 ms window
    Job.fetch(job_id, connection=redis_conn).perform()
    [call] = api.calls
    assert call.fields["late"] == "1" and call.headers["Idempotency-Key"] == job_id
    assert FrameResult.objects.get(job_id=job_id).late is True
    assert dashboard.timeline(attempt)["late"] == 1, "the attempt's timeline says so"
    metrics.recorder.flush(redis_conn)
    assert freshness.histogram_counts("age")["count"] == 0, "not in the live view's freshness"
    assert freshness.histogram_counts("run")["count"] == 1
    assert int(redis_conn.hget(keys.totals(), lateness.LATE) or 0) == 1
    assert stale_count() == 0


def test_a_live_frame_is_not_marked_late(
    attempt: Attempt, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 30
    job_id = enqueue(attempt)
    Job.fetch(job_id, connection=redis_conn).perform()
    assert "late" not in api.calls[0].fields
    assert FrameResult.objects.get(job_id=job_id).late is False


def test_a_frame_past_the_backfill_horizon_is_dropped_and_recorded(
    attempt: Attempt, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_BACKFILL_HORIZON = 0.002
    job_id = enqueue(attempt, seq=7)
    time.sleep(0.01)  # age, not synchronisation: the frame must be older than the 2 ms horizon
    Job.fetch(job_id, connection=redis_conn).perform()
    assert api.calls == [] and stale_count() == 1
    count, [entry] = lateness.expired_list(redis_conn)
    assert count == 1
    assert (entry.job_id, entry.client_id, entry.seq) == (job_id, str(attempt.pk), 7)
    assert entry.age_s >= 0 and "horizon" in entry.why


def test_an_operators_retry_is_never_undone_by_the_cut(
    attempt: Attempt, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    """Item 1: the API was down, the frame failed; the operator retries it long after."""
    job_id = fail_for_an_outage(attempt, redis_conn)
    settings.PROCTORING_BACKFILL_HORIZON = 0.002  # the frame is older than any horizon by now
    time.sleep(0.01)  # age, not synchronisation
    assert failed_jobs.retry(job_id)
    Job.fetch(job_id, connection=redis_conn).perform()
    assert [call.headers["Idempotency-Key"] for call in api.calls] == [job_id], "sent, not cut"
    assert api.calls[0].fields["late"] == "1"
    assert stale_count() == 0
    assert FrameResult.objects.filter(job_id=job_id, late=True).exists()


def test_a_pause_stops_the_frames_clock(
    attempt: Attempt, api: Any, redis_conn: redis.Redis, settings: Any
) -> None:
    """Item 2: frames acked while the workers are paused (RQ's suspension, as the admin's Pause
    sets it), the workers resumed after more than the live window and the horizon: they are
    sent, and live, since their wait was the pause."""
    settings.PROCTORING_MAX_FRAME_AGE = 0.5
    settings.PROCTORING_BACKFILL_HORIZON = 0.6
    queue = policy.get_queue()
    worker = SimpleWorker([queue], connection=redis_conn, name="paused")
    worker.register_birth()

    def take() -> list[intake.Taken]:
        return intake.take(
            redis_conn, queue.key, queue.started_job_registry.key, worker.key, worker.name, 3
        ).taken

    suspend(redis_conn)
    with pytest.raises(intake.Suspended):
        take()  # a worker sees the pause
    job_ids = [enqueue(attempt, seq) for seq in (1, 2, 3)]
    time.sleep(1.0)  # age, not synchronisation: the pause outlasts the live window and the horizon
    resume(redis_conn)
    taken = take()
    for one in taken:
        one.job.perform()
    assert [call.headers["Idempotency-Key"] for call in api.calls] == job_ids
    assert all("late" not in call.fields for call in api.calls), "the pause did not count"
    assert stale_count() == 0


def test_the_age_leaves_out_every_pause_it_overlaps(redis_conn: redis.Redis, settings: Any) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 30
    now = time.time()
    lateness.note_paused(redis_conn, now - 100)
    lateness.note_running(redis_conn, now - 90)
    lateness.note_paused(redis_conn, now - 40)
    received = now - 50
    assert lateness.age_of(redis_conn, received, 0.0, now) == pytest.approx(10.0), "a pause goes on"
    lateness.note_running(redis_conn, now - 10)
    assert lateness.age_of(redis_conn, received, 0.0, now) == pytest.approx(20.0)
    assert lateness.age_of(redis_conn, now - 120, 1.0, now) == pytest.approx(120 - 1 - 10 - 30)
    # The live window reaches back over the 30 s paused within it.
    assert lateness.live_since(redis_conn, now) == pytest.approx(now - 60)


def test_a_take_serves_every_live_frame_before_any_late_one(redis_conn: redis.Redis, settings: Any) -> None:
    """After an outage: each client's oldest frames are late. Live frames go first (each
    client's in order), then the late ones, oldest first, in the clients' fair turns."""
    settings.PROCTORING_MAX_FRAME_AGE = 30
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 50
    settings.PROCTORING_QUEUE_ORDER = "fair"

    def frame(client: str, seq: int, age: float = 0.0) -> str:
        job_id = enqueuing.enqueue_frame(client, client, seq, FRAME)
        if age:  # received `age` seconds ago, as a frame waiting out an outage was
            redis_conn.zadd(keys.client_pending(client), {job_id: time.time() - age}, xx=True)
        return job_id

    a_late = [frame("a", seq, age=100 - seq) for seq in (1, 2, 3)]
    b_late = [frame("b", seq, age=100 - seq) for seq in (1, 2)]
    c_late = [frame("c", 1, age=90)]
    a_live = [frame("a", seq) for seq in (4, 5)]
    b_live = [frame("b", 3)]
    queue = policy.get_queue()
    taken = intake.take(redis_conn, queue.key, queue.started_job_registry.key, "rq:worker:w", "w", 20).taken
    order = [item.job.id for item in taken]
    assert sorted(order[:3]) == sorted(a_live + b_live), "live first"
    assert order.index(a_live[0]) < order.index(a_live[1]), "a client's live frames in order"
    late = order[3:]
    assert sorted(late) == sorted(a_late + b_late + c_late)
    for frames in (a_late, b_late):
        assert [late.index(job_id) for job_id in frames] == sorted(late.index(job_id) for job_id in frames)
    assert late.index(c_late[0]) < late.index(a_late[1]), "late frames in fair turns"


def test_the_failed_list_says_a_retried_frame_is_sent_however_old(staff_client: Any) -> None:
    page = staff_client.get("/admin/proctoring/queue/failed/").content.decode()
    assert "A retried frame is sent however old" in page


def test_late_frames_hold_their_clients_slots(
    attempt: Attempt, redis_conn: redis.Redis, settings: Any
) -> None:
    """Backfill never grows Redis past the caps: a late frame keeps its place in its client's
    pending set until it is sent or expired, so the client's next frame is refused."""
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 2
    for seq in (1, 2):
        job_id = enqueue(attempt, seq)
        redis_conn.zadd(keys.client_pending(str(attempt.pk)), {job_id: time.time() - 100}, xx=True)
    with pytest.raises(RateLimited):
        enqueue(attempt, 3)


def test_a_taken_frame_is_aged_with_the_pauses_its_take_read(
    attempt: Attempt, redis_conn: redis.Redis
) -> None:
    """One read of the pauses per take, not one more round trip per frame: the age a job
    computes from them is the age read afresh."""
    now = time.time()
    lateness.note_paused(redis_conn, now - 100)
    lateness.note_running(redis_conn, now - 90)
    enqueue(attempt)
    queue = policy.get_queue()
    worker = SimpleWorker([queue], connection=redis_conn, name="aging")
    worker.register_birth()
    [taken] = intake.take(
        redis_conn, queue.key, queue.started_job_registry.key, worker.key, worker.name, 1
    ).taken
    assert taken.pauses == lateness.read_pauses(redis_conn)
    assert taken.pauses is not None and len(taken.pauses.ended) == 1
    received = now - 120
    redis_conn.config_resetstat()
    job_context.begin_job(taken.job.id, taken.envelope, taken.pauses)
    try:
        age = outcomes.frame_age(received, 0.0)
    finally:
        job_context.end_job()
    assert "cmdstat_zrangebyscore" not in redis_conn.info("commandstats"), "no read of its own"
    assert age == pytest.approx(lateness.age_of(redis_conn, received, 0.0), abs=0.5)
    assert age == pytest.approx(time.time() - received - 10, abs=0.5)


def test_with_no_live_window_a_frame_is_aged_without_reading_the_pauses(
    redis_conn: redis.Redis, settings: Any
) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 0  # every frame is live, whatever its age
    lateness.note_paused(redis_conn, time.time() - 30)
    redis_conn.config_resetstat()
    age = outcomes.frame_age(time.time() - 60, 0.0)
    assert "cmdstat_zrangebyscore" not in redis_conn.info("commandstats")
    assert lateness.classify(age, {}) == lateness.LIVE
