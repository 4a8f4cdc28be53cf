"""Fair order and latest-frame-wins, with a real `rqworker proctoring` and the suite's Redis: the
order in which frames reach the API, and what a replaced frame leaves behind (nothing).

Here the tests that need no process;
the others are in tests/processes/queue/test_fairness.py."""

from __future__ import annotations

from typing import Any

import pytest
from rq.suspension import suspend

from proctoring.core.frames import parse_image
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import jpeg_bytes

QUEUE_KEY = "rq:queue:proctoring"


def enqueue(client: str, seq: int, **options: Any) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20), **options)


@pytest.fixture
def roomy(settings: Any) -> None:
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 50


def test_a_take_starts_at_most_the_backlog_it_is_allowed_sparse_clients_first(roomy, redis_conn):
    from proctoring.worker import intake

    busy = [enqueue("busy", seq) for seq in range(1, 5)]
    quiet = enqueue("quiet", 1)

    def take(count: int, backlog: int) -> tuple[list[str], int, bool]:
        batch = intake.take(
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
    from proctoring.worker import intake

    settings.PROCTORING_COALESCE = "latest"
    enqueue("a", 1)
    a2 = enqueue("a", 2)  # replaces a1
    b1 = enqueue("b", 1)
    assert redis_conn.lrange(keys.clients_ring_sparse(), 0, -1) == [b"b"]
    assert redis_conn.lrange(keys.clients_ring_backlogged(), 0, -1) == [b"a"]
    batch = intake.take(redis_conn, QUEUE_KEY, "rq:wip:proctoring", "rq:worker:w", "w", 2, backlog=1)
    assert [item.job.id for item in batch.taken] == [b1, a2] and batch.sparse == 1
    # For a while its next frames still go with the backlog, behind the sparse clients'.
    enqueue("a", 3)
    enqueue("b", 2)
    assert redis_conn.lrange(keys.clients_ring_backlogged(), 0, -1) == [b"a"]
    assert redis_conn.lrange(keys.clients_ring_sparse(), 0, -1) == [b"b"]
    assert 0 < redis_conn.ttl(keys.client_hasty("a")) <= 2 and not redis_conn.exists(keys.client_hasty("b"))


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
