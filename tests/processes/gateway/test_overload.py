"""Overload: a global cap on the backlog, throttle messages as the queue fills, and stale frames
dropped at dequeue instead of being sent late.

Here the tests that start real processes;
the others are in tests/integration/gateway/test_overload.py."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from proctoring.core.frames import pack_frame, parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue
from proctoring.store import keys
from proctoring.worker import outcomes
from tests.support import jpeg_bytes, stale_count, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_frame_older_than_the_limit_is_dropped_at_dequeue_and_counted(attempt, api, start_worker, redis_conn):
    client = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)
    old_id = enqueue.enqueue_frame(client, client, 1, frame)
    stored = outcomes.load_frame(old_id)
    assert stored is not None
    meta, image = stored
    aged = dataclasses.replace(meta, received_at=meta.received_at - timedelta(seconds=60))
    redis_conn.set(keys.frame(old_id), pack_frame(aged, image), keepttl=True)
    fresh_id = enqueue.enqueue_frame(client, client, 2, frame)

    start_worker(PROCTORING_MAX_FRAME_AGE="30")
    wait_until(lambda: FrameResult.objects.filter(job_id=fresh_id).exists(), 30, "the fresh frame delivered")
    wait_until(lambda: stale_count() == 1, 10, "the old frame counted as stale")
    assert [call.headers["Idempotency-Key"] for call in api.calls] == [fresh_id], (
        "the stale one was never sent"
    )
    assert not redis_conn.exists(keys.frame(old_id))
    # The delivered frame's slot is freed when its success is recorded, just after its result.
    wait_until(lambda: redis_conn.zcard(keys.client_pending(client)) == 0, 10, "slots freed")
    assert json.loads(json.dumps(stale_count())) == 1
