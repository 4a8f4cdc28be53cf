"""A batch of delivered frames writes its shared bookkeeping once (`proctoring.queue.summed`):
the same counts, hints, refusals, priority and circuit as the frames written one by one, in a
few commands per batch instead of a dozen per frame (issue 21, the worker's CPU per frame)."""

from __future__ import annotations

from typing import Any

import pytest

from proctoring.queue import breaker, counters, freshness, lateness, summed
from proctoring.store import keys
from proctoring.worker import job_context, outcomes

# (client, hint, flagged, late) of each frame, in the order their successes are recorded.
FRAMES = [
    ("a", "face_not_visible", True, False),
    ("b", None, False, False),
    ("a", None, False, True),  # a clean frame after a hint clears it
    ("c", "multiple_faces", True, False),
    ("b", "face_not_visible", False, False),  # the last word for b is a hint
    ("c", None, False, True),
]


def deferred_writes(prefix: str) -> list[job_context.Write]:
    """The writes each frame's job leaves for its success, as a batching worker's jobs do."""
    writes: list[job_context.Write] = []
    for index, (client, hint, flagged, late) in enumerate(FRAMES):
        job_id = f"{prefix}{index:030d}"
        job_context.begin_job(job_id, None)
        outcomes.finish_delivered(
            f"{prefix}{client}",
            job_id,
            flagged=flagged,
            hint=hint,
            times=(10.0 + index, 200.0, 210.0 + index),
            late=late,
        )
        writes.extend(job_context.end_job())
    return writes


def state(redis_conn: Any, prefix: str) -> dict[str, Any]:
    clients = sorted({f"{prefix}{client}" for client, *_ in FRAMES})
    return {
        "hints": [redis_conn.get(keys.client_hint(client)) for client in clients],
        "priority": [redis_conn.exists(keys.client_priority(client)) for client in clients],
        "refusals": [redis_conn.exists(keys.client_refusals(client)) for client in clients],
        "hint_ttls": [redis_conn.ttl(keys.client_hint(client)) for client in clients],
    }


@pytest.mark.django_db
def test_a_batch_of_successes_writes_what_its_frames_write_one_by_one(redis_conn: Any) -> None:
    for client in "abc":
        redis_conn.set(keys.client_refusals(f"one-{client}"), 2)
        redis_conn.set(keys.client_refusals(f"batch-{client}"), 2)
    redis_conn.set(keys.api_failures(), 3)

    one_by_one = 0
    for write in deferred_writes("one-"):
        with redis_conn.pipeline() as pipe:
            with freshness.tallied(pipe), summed.summed(pipe):
                write(pipe)
            one_by_one += len(pipe.command_stack)
            pipe.execute()
    totals, minute = redis_conn.hgetall(keys.totals()), redis_conn.hgetall(counters.minute_key())
    assert int(totals[b"completed"]) == len(FRAMES)
    assert int(totals[lateness.LATE.encode()]) == 2
    assert int(minute[b"completed"]) == len(FRAMES)
    assert breaker.state(redis_conn)["failures"] == 0
    expected = state(redis_conn, "one-")
    assert expected["hints"] == [None, b"face_not_visible", None]
    assert expected["priority"] == [1, 0, 1]
    assert expected["refusals"] == [0, 0, 0]

    redis_conn.set(keys.api_failures(), 3)
    with redis_conn.pipeline() as pipe:
        with freshness.tallied(pipe), summed.summed(pipe):
            for write in deferred_writes("batch-"):
                write(pipe)
        batched = len(pipe.command_stack)
        pipe.execute()

    assert state(redis_conn, "batch-") == expected
    assert breaker.state(redis_conn)["failures"] == 0
    totals, minute = redis_conn.hgetall(keys.totals()), redis_conn.hgetall(counters.minute_key())
    assert int(totals[b"completed"]) == 2 * len(FRAMES), "every frame counted, none twice"
    assert int(totals[lateness.LATE.encode()]) == 4
    assert int(minute[b"completed"]) == 2 * len(FRAMES)
    assert 0 < redis_conn.ttl(counters.minute_key()) <= counters.MINUTE_TTL
    for client in "abc":
        batch, one = f"batch-{client}", f"one-{client}"
        assert freshness.of_clients([batch])[batch] == freshness.of_clients([one])[one]
    # Per frame: counts move, frame and pending deleted (3); per batch: the rest.
    assert batched < one_by_one - 5 * len(FRAMES)


def test_a_key_both_counted_and_replaced_in_one_batch_is_refused() -> None:
    sums = summed.Sums()
    sums.hincrby("k", "f")
    with pytest.raises(ValueError):
        sums.delete("k")
    sums.set("s", 1, ex=5)
    with pytest.raises(ValueError):
        sums.expire("s", 5)
