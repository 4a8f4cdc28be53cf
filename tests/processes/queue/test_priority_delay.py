"""Priority and delayed frames: where the enqueue puts them in Redis, and the order in which a
real `rqworker proctoring` sends them to the API.

Here the tests that start real processes;
the others are in tests/integration/queue/test_priority_delay.py."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import counters
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import Reply, jpeg_bytes, stale_count, wait_until

QUEUE_KEY = "rq:queue:proctoring"


def frame():
    return parse_image(jpeg_bytes(), 1 << 20)


def queue_order(redis_conn) -> list[str]:
    return [item.decode() for item in redis_conn.lrange(QUEUE_KEY, 0, -1)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_priority_frames_first(attempt, api, start_worker):
    client = str(attempt.pk)
    normal = [enqueuing.enqueue_frame(client, client, seq, frame()) for seq in (1, 2, 3)]
    urgent = [enqueuing.enqueue_frame(client, client, seq, frame(), priority=True) for seq in (4, 5)]
    start_worker(PROCTORING_WORKER_CONCURRENCY="1")
    wait_until(lambda: FrameResult.objects.count() == 5, 30, "five results")
    sent = [call.headers["Idempotency-Key"] for call in api.calls]
    assert sent == [*urgent, *normal]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flagged_result_puts_the_clients_next_frames_first(attempt, exam, api, start_worker, redis_conn):
    flagged_client = str(attempt.pk)
    other_user = get_user_model().objects.create_user("other", password="other-pass-123")
    other = str(Attempt.objects.create(user=other_user, exam=exam).pk)
    api.script(Reply(200, {"flags": ["too_dark"]}), Reply(200, {"flags": []}))
    flagged = enqueuing.enqueue_frame(flagged_client, flagged_client, 1, frame())
    start_worker(PROCTORING_WORKER_CONCURRENCY="1", PROCTORING_PRIORITY_AFTER_FLAG="60")
    wait_until(lambda: redis_conn.exists(keys.client_priority(flagged_client)), 30, "priority window")
    assert 0 < redis_conn.ttl(keys.client_priority(flagged_client)) <= 60
    # The worker's only thread is held by another client's frame, so the next two wait.
    api.block()
    enqueuing.enqueue_frame(other, other, 1, frame())
    wait_until(lambda: len(api.calls) == 2, 30, "the other client's frame in flight")
    waiting = enqueuing.enqueue_frame(other, other, 2, frame())
    after_flag = enqueuing.enqueue_frame(flagged_client, flagged_client, 2, frame())
    assert queue_order(redis_conn) == [after_flag, waiting]
    api.release()
    wait_until(lambda: FrameResult.objects.count() == 4, 30, "four results")
    assert [call.headers["Idempotency-Key"] for call in api.calls][2:] == [after_flag, waiting]
    assert FrameResult.objects.get(job_id=flagged).result == {"flags": ["too_dark"]}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_a_delayed_frame_when_it_is_due_and_not_as_stale(attempt, api, start_worker):
    client = str(attempt.pk)
    start_worker(PROCTORING_WORKER_CONCURRENCY="1", PROCTORING_MAX_FRAME_AGE="1")
    enqueued_at = time.monotonic()
    delayed = enqueuing.enqueue_frame(client, client, 1, frame(), delay=2)
    prompt = [enqueuing.enqueue_frame(client, client, seq, frame()) for seq in (2, 3)]
    wait_until(lambda: FrameResult.objects.count() == 3, 30, "three results")
    sent = [call.headers["Idempotency-Key"] for call in api.calls]
    assert sent == [*prompt, delayed]
    # RQ keeps due times in whole seconds (rounded to the nearest): at least 1.5 s of the 2.
    assert api.calls[-1].at - enqueued_at >= 1.5
    wait_until(lambda: counters.read([client])[client]["retrying"] == 0, 10, "counted out of waiting")
    assert stale_count() == 0, "held back on purpose is not stale"
