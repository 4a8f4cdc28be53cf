"""Overload: a global cap on the backlog, throttle messages as the queue fills, frames past
their live window sent late, after live ones, and frames past the backfill horizon dropped.

Here the tests that start real processes;
the others are in tests/integration/gateway/test_overload.py."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from proctoring.core.frames import pack_frame, parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue, lateness
from proctoring.store import keys
from proctoring.worker import outcomes
from tests.support import jpeg_bytes, stale_count, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_frame_past_its_live_window_goes_late_and_one_past_the_horizon_is_dropped_and_recorded(
    attempt, api, start_worker, redis_conn
):
    client = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)

    def aged(seq: int, seconds: float) -> str:
        """A frame received `seconds` ago (its envelope and its pending set's score say so)."""
        job_id = enqueue.enqueue_frame(client, client, seq, frame)
        stored = outcomes.load_frame(job_id)
        assert stored is not None
        meta, image = stored
        older = dataclasses.replace(meta, received_at=meta.received_at - timedelta(seconds=seconds))
        redis_conn.set(keys.frame(job_id), pack_frame(older, image), keepttl=True)
        redis_conn.zadd(keys.client_pending(client), {job_id: older.received_at.timestamp()}, xx=True)
        return job_id

    expired_id = aged(1, 1000)
    late_id = aged(2, 60)
    fresh_id = enqueue.enqueue_frame(client, client, 3, frame)

    # One job at a time: with spare threads the late frame is rightly taken as soon as no live one
    # waits, and the two calls then race to the API; the order under test is the order of taking.
    start_worker(
        PROCTORING_MAX_FRAME_AGE="30", PROCTORING_BACKFILL_HORIZON="900", PROCTORING_WORKER_CONCURRENCY="1"
    )
    wait_until(lambda: FrameResult.objects.filter(job_id=late_id).exists(), 30, "the late frame delivered")
    wait_until(lambda: stale_count() == 1, 10, "the expired frame counted")
    calls = [(call.headers["Idempotency-Key"], call.fields.get("late")) for call in api.calls]
    assert calls == [(fresh_id, None), (late_id, "1")], "live first, then late; the expired one never sent"
    assert FrameResult.objects.get(job_id=late_id).late
    assert not redis_conn.exists(keys.frame(expired_id))
    [entry] = lateness.expired_list(redis_conn)[1]
    assert (entry.job_id, entry.seq) == (expired_id, 1) and entry.age_s >= 1000
    # The delivered frame's slot is freed when its success is recorded, just after its result.
    wait_until(lambda: redis_conn.zcard(keys.client_pending(client)) == 0, 10, "slots freed")
    assert json.loads(json.dumps(stale_count())) == 1
