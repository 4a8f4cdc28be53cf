"""Per-client admission with a worker stuck on a slow API: the 11th pending frame is refused,
and the client can send again as soon as frames are delivered."""

from __future__ import annotations

import pytest
from rq.registry import StartedJobRegistry

from proctoring.core.exceptions import RateLimited
from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue
from proctoring.store import keys
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_stuck_api_fills_the_clients_slots_then_refuses(attempt, api, start_worker, redis_conn):
    client = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)
    api.block()  # every API call hangs until released
    # No thread kept for sparse clients (test_fairness.py): all four go to this one client.
    start_worker(PROCTORING_WORKER_CONCURRENCY="4", PROCTORING_FAIR_RESERVE_PERCENT="0")
    job_ids = [enqueue.enqueue_frame(client, client, seq, frame) for seq in range(1, 11)]
    wait_until(lambda: len(api.calls) == 4, 20, "the worker's four threads are inside API calls")
    assert len(StartedJobRegistry("proctoring", connection=redis_conn)) == 4

    queued_before = redis_conn.llen("rq:queue:proctoring")
    with pytest.raises(RateLimited):
        enqueue.enqueue_frame(client, client, 11, frame)
    assert redis_conn.llen("rq:queue:proctoring") == queued_before == 6, "the refused frame was not enqueued"
    assert redis_conn.zcard(keys.client_pending(client)) == 10

    api.release()
    wait_until(lambda: FrameResult.objects.count() == 10, 60, "all ten delivered once the API answers")
    assert sorted(FrameResult.objects.values_list("job_id", flat=True)) == sorted(job_ids)
    wait_until(lambda: redis_conn.zcard(keys.client_pending(client)) == 0, 10, "slots freed on delivery")
    enqueue.enqueue_frame(client, client, 12, frame)  # accepted again
