"""The queue's figures (proctoring/ops/stats.py) and `proctoring_stats`, on the real Redis.

Here the tests that start real processes;
the others are in tests/integration/ops/test_stats.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.ops import stats
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(attempt: Any, seq: int) -> str:
    return enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.mark.slow
def test_throughput_and_workers_follow_a_real_worker(
    attempt: Any, api: RecordingApi, start_worker: Any, redis_conn: Any
) -> None:
    api.script(Reply(200), Reply(200), Reply(422, {"error": "no"}))
    for seq in range(3):
        enqueue(attempt, seq)
    start_worker()
    wait_until(lambda: FrameResult.objects.count() == 2, 30, "two delivered")
    wait_until(lambda: len(FailedJobRegistry(queue=policy.get_queue())) == 1, 30, "one failed")
    wait_until(
        lambda: stats.throughput()[-1]["completed"] + stats.throughput()[-2]["completed"] == 2, 10, "counted"
    )
    minutes = stats.throughput()
    assert len(minutes) == stats.MINUTES
    assert sum(row["received"] for row in minutes) == 3
    assert sum(row["failed"] for row in minutes) == 1
    [worker] = stats.workers()
    assert worker["successful"] == 2 and worker["failed"] == 1 and worker["last_heartbeat"]
    [row] = stats.clients()
    assert (row["completed_today"], row["failed"], row["queued"]) == (2, 1, 0)
    assert redis_conn.ttl(keys.minute(int(time.time() // 60))) <= counters.MINUTE_TTL
