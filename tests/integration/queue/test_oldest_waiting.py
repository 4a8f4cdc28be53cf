"""The oldest waiting frame's age (the overview's "oldest queued", its metric, a client's "oldest
waiting") is the oldest frame actually waiting, not the head of the queue: a priority frame
goes to the head."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from exams.models import Attempt
from proctoring.core.frames import pack_frame, parse_image, unpack_frame
from proctoring.ops import stats
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db


def enqueue(client_id: str, seq: int, priority: bool = False) -> str:
    frame = parse_image(jpeg_bytes(), 1 << 20)
    return enqueuing.enqueue_frame(client_id, client_id, seq, frame, priority=priority)


def received_earlier(redis_conn: Any, job_id: str, seconds: float) -> None:
    """As if the gateway had received the frame `seconds` earlier."""
    meta, image = unpack_frame(redis_conn.get(keys.frame(job_id)))
    older = dataclasses.replace(meta, received_at=meta.received_at - timedelta(seconds=seconds))
    redis_conn.set(keys.frame(job_id), pack_frame(older, image))


def test_a_priority_frame_at_the_head_does_not_hide_the_older_frames_behind_it(
    staff_client: Client, attempt: Attempt, redis_conn: Any
) -> None:
    client_id = str(attempt.pk)
    old = enqueue(client_id, 1)
    enqueue(client_id, 2)
    received_earlier(redis_conn, old, 120)
    enqueue(client_id, 3, priority=True)  # the head of the queue and of the client's waiting list
    enqueue("other-client", 1, priority=True)
    assert redis_conn.lindex("rq:queue:proctoring", 0).decode() != old

    figures = stats.queue_figures(with_freshness=False)
    assert 119 < figures["oldest_queued_age_s"] < 130
    data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json?clients=5").content)
    assert 119 < data["queue"]["oldest_queued_age_s"] < 130
    [row] = [row for row in data["clients"] if row["client"] == client_id]
    assert 119 < row["oldest_waiting_s"] < 130
    metrics = staff_client.get("/metrics").content.decode()
    [line] = [line for line in metrics.splitlines() if line.startswith("proctoring_oldest_queued_frame_age")]
    assert 119 < float(line.split()[-1]) < 130


def test_with_only_priority_frames_waiting_the_oldest_is_the_first(attempt: Attempt, redis_conn: Any) -> None:
    first = enqueue("c", 1, priority=True)
    enqueue("c", 2, priority=True)
    received_earlier(redis_conn, first, 30)
    assert 29 < stats.queue_figures(with_freshness=False)["oldest_queued_age_s"] < 40
    redis_conn.delete("rq:queue:proctoring")
    assert stats.queue_figures(with_freshness=False)["oldest_queued_age_s"] is None
