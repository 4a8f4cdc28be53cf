"""Pausing the workers (RQ's suspension, the admin's Pause): they take nothing new, the gateway
still accepts frames and says so in its acks, and everything waiting goes once resumed.

Here the tests that start real processes;
the others are in tests/integration/ops/test_pause.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rq.suspension import resume, suspend

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.ops import stats
from proctoring.queue import enqueue as enqueuing
from tests.support import RecordingApi, jpeg_bytes, stale_count, wait_until

FRAME = parse_image(jpeg_bytes(), 1 << 20)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_paused_worker_takes_nothing_until_resumed(
    attempt: Any, api: RecordingApi, start_worker: Any, redis_conn: Any
) -> None:
    start_worker()
    suspend(redis_conn)
    client = str(attempt.pk)
    job_ids = [enqueuing.enqueue_frame(client, client, seq, FRAME) for seq in range(3)]
    # The worker notices the pause when it next tries to take a job, and says so in its state.
    wait_until(lambda: any(w["state"] == "suspended" for w in stats.workers()), 15, "worker suspended")
    assert api.calls == [] and stats.queue_figures()["queued"] == 3
    resume(redis_conn)
    wait_until(
        lambda: FrameResult.objects.filter(job_id__in=job_ids).count() == 3, 20, "delivered after resume"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_frames_acked_while_paused_are_delivered_live_after_a_pause_longer_than_the_horizon(
    attempt: Any, api: RecordingApi, start_worker: Any, redis_conn: Any
) -> None:
    """Issue 19, item 2: a pause stops the frames' clock (a worker records it)."""
    start_worker(PROCTORING_MAX_FRAME_AGE="1", PROCTORING_BACKFILL_HORIZON="2")
    suspend(redis_conn)
    wait_until(lambda: any(w["state"] == "suspended" for w in stats.workers()), 15, "worker suspended")
    client = str(attempt.pk)
    job_ids = [enqueuing.enqueue_frame(client, client, seq, FRAME) for seq in range(1, 4)]
    time.sleep(3)  # age, not synchronisation: the pause outlasts the live window and the horizon
    resume(redis_conn)
    wait_until(
        lambda: FrameResult.objects.filter(job_id__in=job_ids).count() == 3, 20, "delivered after resume"
    )
    assert sorted(call.headers["Idempotency-Key"] for call in api.calls) == sorted(job_ids)
    assert all("late" not in call.fields for call in api.calls), "the paused time did not count"
    assert stale_count() == 0
