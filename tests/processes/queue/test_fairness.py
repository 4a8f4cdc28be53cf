"""Fair order and latest-frame-wins, with a real `rqworker proctoring` and the suite's Redis: the
order in which frames reach the API, and what a replaced frame leaves behind (nothing).

Here the tests that start real processes;
the others are in tests/integration/queue/test_fairness.py."""

from __future__ import annotations

from typing import Any

import pytest
from rq.suspension import resume, suspend

from proctoring.core.frames import parse_image
from proctoring.queue import counters
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
    # Sparse clients (two frames waiting at most) go round the sparse ring, the others the backlogged one.
    assert redis_conn.lrange(keys.clients_ring_sparse(), 0, -1) == [b"quiet", b"other"]
    assert redis_conn.lrange(keys.clients_ring_backlogged(), 0, -1) == [b"busy", b"lone"]
    worker(start_worker)
    resume(redis_conn)
    # The sparse ones first, in turn; then the backlogged ones in turn, each going back among the
    # sparse once it has two frames left (lone first, which then goes before busy's rest).
    expected = [quiet, other[0], other[1], busy[0], lone[0], busy[1], lone[1], lone[2], lone[3]]
    assert sent_order(api, 13) == [*expected, *busy[2:]]
    assert redis_conn.llen(keys.clients_ring_backlogged()) == redis_conn.llen(keys.clients_ring_sparse()) == 0
    assert not redis_conn.exists(keys.client_waiting("busy"))


@pytest.mark.slow
def test_a_client_that_begins_to_wait_goes_before_the_backlog_of_one_that_sends_more(
    roomy, api, start_worker, redis_conn
):
    api.block()
    busy = [enqueue("busy", seq) for seq in range(1, 7)]
    worker(start_worker)
    wait_until(lambda: len(api.calls) == 1, 30, "busy's first frame at the API")
    # busy has had its turn and waits in the backlogged ring with five frames; quiet's one frame comes now.
    assert redis_conn.lrange(keys.clients_ring_backlogged(), 0, -1) == [b"busy"]
    quiet = enqueue("quiet", 1)
    later = enqueue("busy", 7)
    api.release()
    assert sent_order(api, 8) == [busy[0], quiet, *busy[1:], later]


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
    redis_conn.lrem(keys.clients_ring_sparse(), 0, "lost")
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
    rings = (keys.clients_ring_backlogged(), keys.clients_ring_sparse())
    wait_until(
        lambda: not any(redis_conn.llen(ring) for ring in rings),
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
