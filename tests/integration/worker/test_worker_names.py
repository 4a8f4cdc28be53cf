"""Workers are named `<short hostname>.<pid>`, with a suffix when a live worker holds that name
(RQ would refuse to start a second one), and `--name` wins.

Here the tests that need no process;
the others are in tests/processes/worker/test_worker_names.py."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from rq.worker import Worker

from proctoring.queue import policy
from proctoring.store import keys
from proctoring.worker import names as worker_names
from proctoring.worker.workers import ProctoringWorker


def register_live_worker(connection: redis.Redis, name: str) -> None:
    """A worker key as RQ's `register_birth` leaves it (no `death`): a worker killed moments ago."""
    connection.hset(Worker.redis_worker_namespace_prefix + name, mapping={"birth": "x", "pid": 1})


def test_the_base_name_is_the_short_hostname_and_the_pid() -> None:
    assert worker_names.base_name("web-3.exams.example.org", 42) == "web-3.42"
    assert worker_names.base_name("gateway", 1) == "gateway.1"
    assert worker_names.base_name("", 7) == "worker.7"
    assert worker_names.base_name() == f"{socket.gethostname().split('.')[0]}.{os.getpid()}"


def test_a_free_name_is_taken_as_it_is_and_claimed_for_a_moment(redis_conn: redis.Redis) -> None:
    assert worker_names.unique_name(redis_conn, "web-3.42") == "web-3.42"
    claim = keys.worker_name_claim("web-3.42")
    assert 0 < redis_conn.ttl(claim) <= worker_names.CLAIM_SECONDS


def test_a_name_a_live_worker_holds_gets_the_next_free_suffix(redis_conn: redis.Redis) -> None:
    # A container restarted with the same host name and pid 1 while its dead worker's key lives.
    register_live_worker(redis_conn, "web-3.1")
    register_live_worker(redis_conn, "web-3.1.2")
    assert worker_names.unique_name(redis_conn, "web-3.1") == "web-3.1.3"


def test_a_worker_that_registered_its_death_leaves_its_name_free(redis_conn: redis.Redis) -> None:
    register_live_worker(redis_conn, "web-3.1")
    redis_conn.hset(Worker.redis_worker_namespace_prefix + "web-3.1", "death", "2026-11-29T10:00:00Z")
    assert worker_names.unique_name(redis_conn, "web-3.1") == "web-3.1"


def test_two_workers_starting_at_once_get_different_names(redis_conn: redis.Redis) -> None:
    # Two containers on the host's network: same host name, both pid 1, neither registered yet.
    first = worker_names.unique_name(redis_conn, "web-3.1")
    second = worker_names.unique_name(redis_conn, "web-3.1")
    assert (first, second) == ("web-3.1", "web-3.1.2")


def test_past_the_numbered_suffixes_a_random_one_is_used(redis_conn: redis.Redis) -> None:
    for name in ["web-3.1", *(f"web-3.1.{n}" for n in range(2, worker_names.SUFFIXES + 1))]:
        register_live_worker(redis_conn, name)
    name = worker_names.unique_name(redis_conn, "web-3.1")
    assert name.startswith("web-3.1.") and len(name.rsplit(".", 1)[1]) == 6


@pytest.fixture
def make_worker() -> Iterator[Any]:
    """ProctoringWorkers built in this process, each on its own client; unregistered at the end."""
    made: list[ProctoringWorker] = []

    def make(**kwargs: Any) -> ProctoringWorker:
        connection = redis.Redis.from_url(django_settings.REDIS_URL)
        worker = ProctoringWorker([policy.get_queue()], connection=connection, concurrency=1, **kwargs)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        if worker.birth_date is not None:
            worker.register_death()
        worker._pool.shutdown()
        worker.connection.close()
        worker.connection.connection_pool.disconnect()


def test_a_worker_is_named_host_and_pid_and_a_second_one_of_that_name_still_starts(make_worker: Any) -> None:
    first = make_worker()
    assert first.name == worker_names.base_name()
    first.register_birth()
    second = make_worker()  # same host, same pid, the first one still registered
    assert second.name == f"{worker_names.base_name()}.2"
    second.register_birth()  # RQ would raise "There exists an active worker named ..." on a clash
    assert {w.name for w in Worker.all(queue=policy.get_queue())} == {first.name, second.name}


def test_a_name_given_with_name_is_kept(make_worker: Any) -> None:
    assert make_worker(name="night-shift").name == "night-shift"
