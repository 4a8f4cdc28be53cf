"""Priority and delayed frames: where the enqueue puts them in Redis, and the order in which a
real `rqworker proctoring` sends them to the API.

Here the tests that need no process;
the others are in tests/processes/queue/test_priority_delay.py."""

from __future__ import annotations

import time

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from proctoring.core.frames import parse_image
from proctoring.queue import counters, fairness, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import jpeg_bytes

QUEUE_KEY = "rq:queue:proctoring"


def frame():
    return parse_image(jpeg_bytes(), 1 << 20)


def enqueue(client: str, seq: int, **options) -> str:
    return enqueuing.enqueue_frame(client, client, seq, frame(), **options)


def queue_order(redis_conn) -> list[str]:
    return [item.decode() for item in redis_conn.lrange(QUEUE_KEY, 0, -1)]


def test_priority_frames_go_ahead_of_normal_ones_in_their_own_order(redis_conn):
    normal = [enqueue("a", seq) for seq in (1, 2)]
    first = enqueue("b", 1, priority=True)
    second = enqueue("c", 1, priority=True)
    late = enqueue("a", 3)
    assert queue_order(redis_conn) == [first, second, *normal, late]


def test_priority_frame_in_an_empty_queue_or_behind_only_priority_frames(redis_conn):
    first = enqueue("a", 1, priority=True)
    assert queue_order(redis_conn) == [first]
    second = enqueue("a", 2, priority=True)
    assert queue_order(redis_conn) == [first, second]


def test_past_the_scan_limit_a_priority_frame_still_goes_before_every_normal_one(redis_conn, settings):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 1000
    normal = enqueue("n", 1)
    ahead = [enqueue("p", seq, priority=True) for seq in range(fairness.PRIORITY_SCAN + 5)]
    newest = enqueue("p", 9999, priority=True)
    order = queue_order(redis_conn)
    assert order[-1] == normal, "the normal frame is still last"
    assert set(order[:-1]) == {*ahead, newest}
    assert order[: fairness.PRIORITY_SCAN] == ahead[: fairness.PRIORITY_SCAN]


def test_a_camera_joining_hundreds_of_priority_frames_costs_redis_a_few_looks(redis_conn):
    """At an exam's start every camera's first frame is a priority one. Where the waiting ones
    end is found by halving (`includes/after_priority.lua`), not by looking at each: one look
    each made the 500th camera's first frame cost Redis ~1 ms, and the gateways' acks waited."""
    waiting = [enqueue(f"camera-{index}", 1, priority=True) for index in range(200)]
    normal = enqueue("camera-0", 2)
    redis_conn.config_resetstat()
    newest = enqueue("camera-200", 1, priority=True)
    stats = redis_conn.info("commandstats")
    looks = sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("hget", "lindex"))
    assert looks <= 60, stats  # a look at each waiting frame was 600 here
    assert queue_order(redis_conn) == [*waiting, newest, normal]
    ring = [item.decode() for item in redis_conn.lrange(keys.clients_ring_sparse(), 0, -1)]
    assert ring == [f"camera-{index}" for index in range(201)]


def test_a_flagged_result_gives_the_client_priority_for_a_while(redis_conn, settings):
    normal = enqueue("a", 1)
    redis_conn.set(keys.client_priority("b"), 1, ex=30)  # what a flagged result of b leaves
    flagged_client = enqueue("b", 1)
    other = enqueue("c", 1)
    assert queue_order(redis_conn) == [flagged_client, normal, other]


def test_a_taken_priority_frame_loses_its_mark(redis_conn):
    from proctoring.worker import intake

    job_id = enqueue("a", 1, priority=True)
    assert redis_conn.hget(Job.key_for(job_id), "pri") == b"1"
    [taken] = intake.take(redis_conn, QUEUE_KEY, "rq:wip:proctoring", "rq:worker:w", "w", 1).taken
    assert taken.job.id == job_id
    assert redis_conn.hget(Job.key_for(job_id), "pri") is None, "a retry of it is a normal frame"


def test_a_delayed_frame_waits_in_rqs_scheduled_registry_counted_as_waiting(redis_conn):
    before = time.time()
    job_id = enqueue("a", 1, delay=5)
    assert queue_order(redis_conn) == []
    registry = ScheduledJobRegistry("proctoring", connection=redis_conn)
    assert registry.get_job_ids() == [job_id]
    due = registry.get_scheduled_time(job_id).timestamp()
    assert before + 4.5 <= due <= time.time() + 5.5
    job = Job.fetch(job_id, connection=redis_conn)
    assert job.get_status() == "scheduled"
    figures = counters.read(["a"])["a"]
    assert (figures["queued"], figures["retrying"]) == (0, 1)


@pytest.mark.parametrize("delay", [-1, policy.MAX_DELAY + 1])
def test_a_delay_out_of_range_is_refused_and_nothing_is_written(redis_conn, delay):
    with pytest.raises(ValueError, match="delay"):
        enqueue("a", 1, delay=delay)
    assert redis_conn.dbsize() == 0


@pytest.mark.django_db(transaction=True)
def test_the_first_frame_of_each_connection_jumps_the_queue(attempt, redis_conn):
    from tests.communicators import converse, token_path

    waiting = enqueue("someone-else", 1)
    image = {"bytes_data": jpeg_bytes()}
    first_connection = [reply["job_id"] for reply in converse(token_path(attempt), [image, image])]
    reconnected = [reply["job_id"] for reply in converse(token_path(attempt), [image])]
    assert queue_order(redis_conn) == [first_connection[0], reconnected[0], waiting, first_connection[1]]
