"""Fair order and latest-frame-wins, with a real `rqworker proctoring` and the suite's Redis: the
order in which frames reach the API, and what a replaced frame leaves behind (nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from rq.suspension import resume, suspend

from proctoring.core.frames import parse_image
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import RecordingApi, jpeg_bytes, wait_until

QUEUE_KEY = "rq:queue:proctoring"


def enqueue(client: str, seq: int, **options: Any) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20), **options)


def sent_order(api: RecordingApi, count: int) -> list[str]:
    wait_until(lambda: len(api.calls) >= count, 30, f"{count} frames at the API")
    return [call.headers["Idempotency-Key"] for call in api.calls]


def worker(start_worker: Any, **env: str) -> None:
    # One thread: the API sees the frames in the order the worker takes them.
    start_worker(PROCTORING_WORKER_CONCURRENCY="1", PROCTORING_MAX_PENDING_PER_CLIENT="50", **env)


@pytest.fixture
def roomy(settings: Any) -> None:
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 50


@pytest.mark.slow
def test_fair_order_takes_one_frame_of_each_waiting_client_in_turn(roomy, api, start_worker, redis_conn):
    suspend(redis_conn)  # everything waits until all is queued
    busy = [enqueue("busy", seq) for seq in range(1, 7)]
    quiet = enqueue("quiet", 1)
    other = [enqueue("other", seq) for seq in range(1, 3)]
    lone = [enqueue("lone", seq) for seq in range(1, 5)]
    # Sparse clients (two frames waiting at most) go round one ring, the others round another.
    assert redis_conn.lrange(keys.clients_ring_new(), 0, -1) == [b"quiet", b"other"]
    assert redis_conn.lrange(keys.clients_ring(), 0, -1) == [b"busy", b"lone"]
    worker(start_worker)
    resume(redis_conn)
    # The sparse ones first, in turn; then the backlogged ones in turn, each going back among the
    # sparse once it has two frames left (lone first, which then goes before busy's rest).
    expected = [quiet, other[0], other[1], busy[0], lone[0], busy[1], lone[1], lone[2], lone[3]]
    assert sent_order(api, 13) == [*expected, *busy[2:]]
    assert redis_conn.llen(keys.clients_ring()) == redis_conn.llen(keys.clients_ring_new()) == 0
    assert not redis_conn.exists(keys.client_waiting("busy"))


@pytest.mark.slow
def test_a_client_that_begins_to_wait_goes_before_the_backlog_of_one_that_sends_more(
    roomy, api, start_worker, redis_conn
):
    api.block()
    busy = [enqueue("busy", seq) for seq in range(1, 7)]
    worker(start_worker)
    wait_until(lambda: len(api.calls) == 1, 30, "busy's first frame at the API")
    # busy has had its turn and waits in the ring with five frames; quiet's one frame comes now.
    assert redis_conn.lrange(keys.clients_ring(), 0, -1) == [b"busy"]
    quiet = enqueue("quiet", 1)
    later = enqueue("busy", 7)
    api.release()
    assert sent_order(api, 8) == [busy[0], quiet, *busy[1:], later]


def test_a_take_starts_at_most_the_backlog_it_is_allowed_sparse_clients_first(roomy, redis_conn):
    from proctoring.worker import lifecycle

    busy = [enqueue("busy", seq) for seq in range(1, 5)]
    quiet = enqueue("quiet", 1)

    def take(count: int, backlog: int) -> tuple[list[str], int, bool]:
        batch = lifecycle.take(
            redis_conn, QUEUE_KEY, "rq:wip:proctoring", "rq:worker:w", "w", count, backlog=backlog
        )
        return [item.job.id for item in batch.taken], batch.sparse, batch.held_back

    assert take(3, backlog=0) == ([quiet], 1, True)
    assert take(3, backlog=1) == ([busy[0]], 0, True)
    assert take(3, backlog=0) == ([], 0, True)  # nothing sparse waits
    # Once busy is down to two frames it is sparse again, and served as such.
    assert take(3, backlog=1) == (busy[1:], 2, False)
    assert take(3, backlog=0) == ([], 0, False)


def test_reserve_size_and_slots_that_keep_some_free():
    from proctoring.worker import slots

    assert [slots.reserve_size(n, 10) for n in (1, 3, 4, 23, 45, 64)] == [0, 0, 1, 2, 4, 6]
    assert slots.reserve_size(64, 0) == 0
    pool = slots.Slots(4)
    assert pool.acquire(4, timeout=0, keep=1) == 4
    pool.release(1)
    assert pool.acquire(4, timeout=0, keep=1) == 0  # one free: kept
    pool.wake()  # a sparse client waits: the kept one may go
    assert pool.acquire(4, timeout=0, keep=1) == 1
    pool.release(2)
    assert pool.acquire(4, timeout=0, keep=1) == 2


def test_the_reserve_holds_only_while_sparse_clients_come(redis_conn):
    import time

    import redis
    from django.conf import settings as django_settings

    from proctoring.worker.workers import ProctoringWorker

    # Its own client: a worker gives its client a pool sized for its threads.
    connection = redis.Redis.from_url(django_settings.REDIS_URL)
    worker = ProctoringWorker([policy.get_queue()], connection=connection, concurrency=10)
    try:
        assert worker._reserve == 1
        worker._sparse_at = time.monotonic()
        assert worker._reserve_kept() == 1
        # No sparse frame for a while: every client is behind, and every thread serves them.
        worker._sparse_at = time.monotonic() - django_settings.PROCTORING_FAIR_RESERVE_HOLD - 1
        assert worker._reserve_kept() == 0
    finally:
        worker._pool.shutdown()
        connection.connection_pool.disconnect()


@pytest.mark.slow
@pytest.mark.parametrize("reserve_percent", ["10", "0"])
def test_a_thread_is_kept_free_for_a_sparse_client_under_backlog(
    roomy, api, start_worker, redis_conn, reserve_percent
):
    # Four threads, 10 % kept: one thread waits for sparse clients while busy's backlog runs.
    api.block()
    suspend(redis_conn)
    busy = [enqueue("busy", seq) for seq in range(1, 9)]
    start_worker(
        PROCTORING_WORKER_CONCURRENCY="4",
        PROCTORING_MAX_PENDING_PER_CLIENT="50",
        PROCTORING_FAIR_RESERVE_PERCENT=reserve_percent,
        PROCTORING_FAIR_RESERVE_HOLD="60",  # kept from the start whatever this machine's pace
    )
    resume(redis_conn)
    # (Frames started together reach the API in any order.)
    if reserve_percent == "0":
        # Every thread takes the backlog, and a sparse client's frame waits for one to end.
        assert set(sent_order(api, 4)) == set(busy[:4])
        quiet = enqueue("quiet", 1)
        api.release()
        assert quiet in sent_order(api, 5)[4:]
        return
    assert set(sent_order(api, 3)) == set(busy[:3])
    # The fourth thread is kept: quiet's frame starts at once, while busy's three still run.
    quiet = enqueue("quiet", 1)
    assert sent_order(api, 4)[3] == quiet
    assert redis_conn.llen(keys.client_waiting("busy")) == 5
    api.release()
    assert set(sent_order(api, 9)[4:]) == set(busy[3:])


@pytest.mark.slow
def test_a_job_requeued_by_rq_itself_is_not_left_behind_the_rings(roomy, api, start_worker, redis_conn):
    # RQ's (and django-rq's) requeue knows nothing of waiting lists: under a lasting backlog the
    # rings never empty, so such a job at the queue's head goes first.
    from rq import Queue

    suspend(redis_conn)
    busy = [enqueue("busy", seq) for seq in range(1, 4)]
    quiet = enqueue("quiet", 1)
    orphan = enqueue("lost", 1)
    redis_conn.lrem(keys.client_waiting("lost"), 0, orphan)
    redis_conn.lrem(keys.clients_ring_new(), 0, "lost")
    redis_conn.lrem(QUEUE_KEY, 0, orphan)
    Queue("proctoring", connection=redis_conn).push_job_id(orphan, at_front=True)
    worker(start_worker)
    resume(redis_conn)
    assert sent_order(api, 5) == [orphan, quiet, *busy]


@pytest.mark.slow
def test_fifo_order_takes_frames_as_they_came(roomy, api, start_worker, redis_conn):
    suspend(redis_conn)
    busy = [enqueue("busy", seq) for seq in range(1, 4)]
    quiet = enqueue("quiet", 1)
    worker(start_worker, PROCTORING_QUEUE_ORDER="fifo")
    resume(redis_conn)
    assert sent_order(api, 4) == [*busy, quiet]
    # Taken from the queue's head, they left their clients' waiting lists and the rings.
    wait_until(
        lambda: redis_conn.llen(keys.clients_ring()) == redis_conn.llen(keys.clients_ring_new()) == 0,
        10,
        "the rings empty",
    )


@pytest.mark.slow
def test_a_client_in_its_priority_window_gets_more_per_turn(roomy, api, start_worker, redis_conn):
    suspend(redis_conn)
    plain = [enqueue("plain", seq) for seq in range(1, 7)]
    redis_conn.set(keys.client_priority("flagged"), 1, ex=60)  # as after a flagged result
    flagged = [enqueue("flagged", seq) for seq in range(1, 8)]
    worker(start_worker, PROCTORING_FAIR_FLAGGED_WEIGHT="2")
    resume(redis_conn)
    # Its frames are priority ones (its turn comes first), and it gets two per turn to plain's one.
    expected = [*flagged[0:2], plain[0], *flagged[2:4], plain[1], *flagged[4:7], *plain[2:]]
    assert sent_order(api, 13) == expected


@pytest.mark.slow
def test_priority_frames_keep_their_order_among_clients_in_fair_order(roomy, api, start_worker, redis_conn):
    suspend(redis_conn)
    normal = [enqueue("a", seq) for seq in (1, 2)]
    first = enqueue("b", 1, priority=True)
    second = enqueue("c", 1, priority=True)
    urgent = enqueue("a", 3, priority=True)
    worker(start_worker)
    resume(redis_conn)
    # b's and c's first frames, then a's priority frame ahead of its normal ones.
    assert sent_order(api, 5) == [first, second, urgent, *normal]


def test_latest_frame_wins_replaces_the_oldest_waiting_frame_in_its_place(roomy, settings, redis_conn):
    settings.PROCTORING_COALESCE = "latest"
    suspend(redis_conn)
    a1 = enqueue("a", 1)
    b1 = enqueue("b", 1)
    a2 = enqueue("a", 2)
    # a2 took a1's place: in the queue (before b1) and in a's waiting list; a1 is gone whole.
    assert [item.decode() for item in redis_conn.lrange(QUEUE_KEY, 0, -1)] == [a2, b1]
    assert redis_conn.lrange(keys.client_waiting("a"), 0, -1) == [a2.encode()]
    assert not redis_conn.exists(f"rq:job:{a1}") and not redis_conn.exists(keys.frame(a1))
    assert redis_conn.zrange(keys.client_pending("a"), 0, -1) == [a2.encode()]
    a3 = enqueue("a", 3)
    figures = counters.read(["a"])["a"]
    assert figures["queued"] == 1
    assert redis_conn.hget(keys.client_counts("a"), "coalesced") == b"2"
    assert redis_conn.hget(keys.totals(), "coalesced") == b"2"
    assert [item.decode() for item in redis_conn.lrange(QUEUE_KEY, 0, -1)] == [a3, b1]


def test_with_latest_frame_wins_a_client_whose_frames_replace_each_other_is_not_sparse(
    roomy, settings, redis_conn
):
    # With one frame waiting at most, the backlog cannot tell who sends faster than served: a
    # replacement does (and a client not replacing stays sparse, served first).
    from proctoring.worker import lifecycle

    settings.PROCTORING_COALESCE = "latest"
    enqueue("a", 1)
    a2 = enqueue("a", 2)  # replaces a1
    b1 = enqueue("b", 1)
    assert redis_conn.lrange(keys.clients_ring_new(), 0, -1) == [b"b"]
    assert redis_conn.lrange(keys.clients_ring(), 0, -1) == [b"a"]
    batch = lifecycle.take(redis_conn, QUEUE_KEY, "rq:wip:proctoring", "rq:worker:w", "w", 2, backlog=1)
    assert [item.job.id for item in batch.taken] == [b1, a2] and batch.sparse == 1
    # For a while its next frames still go with the backlog, behind the sparse clients'.
    enqueue("a", 3)
    enqueue("b", 2)
    assert redis_conn.lrange(keys.clients_ring(), 0, -1) == [b"a"]
    assert redis_conn.lrange(keys.clients_ring_new(), 0, -1) == [b"b"]
    assert 0 < redis_conn.ttl(keys.client_hasty("a")) <= 2 and not redis_conn.exists(keys.client_hasty("b"))


@pytest.mark.slow
def test_latest_frame_wins_leaves_running_frames_alone_and_the_api_sees_only_the_latest(
    roomy, settings, api, start_worker, redis_conn
):
    settings.PROCTORING_COALESCE = "latest"
    api.block()
    running = enqueue("a", 1)
    worker(start_worker)
    wait_until(lambda: len(api.calls) == 1, 30, "the first frame at the API")
    # It is running: the next frames queue behind it and replace each other, not it.
    replaced = [enqueue("a", seq) for seq in (2, 3, 4)]
    latest = enqueue("a", 5)
    assert [item.decode() for item in redis_conn.lrange(QUEUE_KEY, 0, -1)] == [latest]
    api.release()
    assert sent_order(api, 2) == [running, latest]
    wait_until(lambda: counters.read(["a"])["a"]["queued"] == 0, 10, "nothing waiting")
    assert not any(redis_conn.exists(f"rq:job:{job_id}") for job_id in replaced)
    assert redis_conn.hget(keys.client_counts("a"), "coalesced") == b"3"


def test_the_order_and_coalescing_settings_take_only_known_values():
    from django.core.exceptions import ImproperlyConfigured

    from proctoring_site.env import Env

    assert Env({}).choice("PROCTORING_QUEUE_ORDER", ("fair", "fifo"), "fair") == "fair"
    assert (
        Env({"PROCTORING_QUEUE_ORDER": "FIFO"}).choice("PROCTORING_QUEUE_ORDER", ("fair", "fifo"), "fair")
        == "fifo"
    )
    with pytest.raises(
        ImproperlyConfigured, match="PROCTORING_COALESCE must be one of 'latest', got 'newest'"
    ):
        Env({"PROCTORING_COALESCE": "newest"}).choice("PROCTORING_COALESCE", ("", "latest"), "")
