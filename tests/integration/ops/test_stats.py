"""The queue's figures (proctoring/ops/stats.py) and `proctoring_stats`, on the real Redis.

Here the tests that need no process;
the others are in tests/processes/ops/test_stats.py."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rq.suspension import resume, suspend

from proctoring.core.frames import parse_image
from proctoring.ops import stats
from proctoring.queue import counters
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(attempt: Any, seq: int) -> str:
    return enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, parse_image(jpeg_bytes(), 1 << 20))


def test_queue_figures_count_each_state_and_the_oldest_frame(attempt: Any, redis_conn: Any) -> None:
    empty = stats.queue_figures()
    assert (empty["queued"], empty["failed"], empty["oldest_queued_age_s"], empty["paused"]) == (
        0,
        0,
        None,
        False,
    )
    enqueue(attempt, 1)
    enqueue(attempt, 2)
    figures = stats.queue_figures()
    assert figures["queued"] == 2 and figures["running"] == 0 and figures["retrying"] == 0
    assert 0 <= figures["oldest_queued_age_s"] < 5
    suspend(redis_conn)
    assert stats.queue_figures()["paused"] is True
    resume(redis_conn)


def test_client_rows_name_the_attempt_and_its_counts(attempt: Any) -> None:
    for seq in range(3):
        enqueue(attempt, seq)
    [row] = stats.clients()
    assert row["client"] == str(attempt.pk)
    assert (row["user"], row["exam"]) == (attempt.user.username, attempt.exam.slug)
    assert (row["queued"], row["backlog"], row["failed"], row["completed_today"]) == (3, 3, 0, 0)
    assert time.time() - row["last_frame_at"] < 5


def test_a_client_that_is_not_an_attempt_still_gets_a_row() -> None:
    enqueuing.enqueue_frame("camera-7", "camera-7", 1, parse_image(jpeg_bytes(), 1 << 20))
    [row] = stats.clients()
    assert (row["client"], row["user"], row["exam"], row["queued"]) == ("camera-7", None, None, 1)


def test_proctoring_stats_json_and_table(attempt: Any) -> None:
    enqueue(attempt, 1)
    out = StringIO()
    call_command("proctoring_stats", "--json", stdout=out)
    snapshot = json.loads(out.getvalue())
    assert snapshot["queue"]["queued"] == 1
    assert snapshot["clients"][0]["client"] == str(attempt.pk)
    assert set(snapshot) == {"generated_at", "queue", "freshness", "workers", "throughput", "clients"}
    assert set(snapshot["freshness"]) == {"wait", "run", "age"}
    table = StringIO()
    call_command("proctoring_stats", stdout=table)
    text = table.getvalue()
    assert "queued 1" in text and str(attempt.pk) in text and attempt.user.username in text


def test_frames_whose_capture_time_was_replaced_are_counted_in_every_view(attempt: Any) -> None:
    from_2999 = parse_image(jpeg_bytes(), 1 << 20, datetime(2999, 1, 1, tzinfo=UTC))
    enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), 1, from_2999)
    enqueue(attempt, 2)  # no capture time given: nothing to correct
    assert stats.queue_figures()["clock_corrected"] == 1
    [row] = stats.clients()
    assert (row["queued"], row["clock_corrected"]) == (2, 1)
    table = StringIO()
    call_command("proctoring_stats", stdout=table)
    text = table.getvalue()
    assert "time corrected 1;" in text, "the queue's line"
    assert "replaced  time corrected  last frame" in text, "a column of the clients' table"


def test_proctoring_stats_refuses_bad_arguments() -> None:
    with pytest.raises(CommandError, match="--watch"):
        call_command("proctoring_stats", "--watch", "0")
    with pytest.raises(CommandError, match="--clients"):
        call_command("proctoring_stats", "--clients", "-1")


def test_clients_silent_longer_than_their_counts_are_kept_leave_the_index(redis_conn: Any) -> None:
    now = time.time()
    redis_conn.zadd(keys.clients_index(), {"old": now - counters.COUNTS_TTL - 10, "new": now})
    assert counters.clients() == ["new"]
    assert redis_conn.zscore(keys.clients_index(), "old") is None
