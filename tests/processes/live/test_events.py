"""Job events: published on the real channel layer by a real worker, logged, and passed on to
staff over the events WebSocket (and to no one else).

Here the tests that start real processes;
the others are in tests/integration/live/test_events.py."""

from __future__ import annotations

import pytest

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from tests.communicators import Listener
from tests.support import Reply, jpeg_bytes, wait_until


def enqueue(attempt, seq: int) -> str:
    client = str(attempt.pk)
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_publishes_completed_and_failed_events_and_logs_them(attempt, api, start_worker):
    listener = Listener()
    api.script(Reply(200, {"flags": ["too_dark"]}), Reply(400, {"error": "bad_seq"}))
    delivered = enqueue(attempt, 1)
    worker = start_worker(PROCTORING_WORKER_CONCURRENCY="1")
    [completed] = listener.next_events(1)
    assert completed["event"] == "completed" and completed["job_id"] == delivered
    assert (completed["client_id"], completed["seq"], completed["flags"]) == (
        str(attempt.pk),
        1,
        ["too_dark"],
    )
    rejected = enqueue(attempt, 2)
    [failed] = listener.next_events(1)
    assert (failed["event"], failed["job_id"], failed["kind"]) == ("failed", rejected, "ApiRejected")
    assert "400" in failed["error"]
    wait_until(lambda: f"job {rejected} failed (client {attempt.pk} #2)" in worker.log(), 10, "failed logged")
    assert f"job {delivered} completed (client {attempt.pk} #1)" in worker.log()
