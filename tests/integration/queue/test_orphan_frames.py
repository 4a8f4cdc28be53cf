"""A frame's envelope whose job was deleted behind our back (django-rq's own pages know nothing
of it) is removed by the scheduler's periodic reconcile, its kept image's bytes forgotten; a
bounded number of keys is looked at per run (issue 19, item 11: it stayed 7 days, unseen)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django_rq.settings import get_queues_list
from rq.registry import FailedJobRegistry

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from proctoring.worker.scheduling import ProctoringScheduler
from proctoring.worker.workers import ProctoringWorker
from tests.support import RecordingApi, Reply, jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)
QUEUE_INDEX = [entry["name"] for entry in get_queues_list()].index("proctoring")


def run_worker_once() -> None:
    connection = redis.Redis.from_url(django_settings.REDIS_URL)
    worker = ProctoringWorker([policy.get_queue()], connection=connection, concurrency=1)
    try:
        worker.work(burst=True)
    finally:
        worker._pool.shutdown()
        connection.close()


def test_a_failed_job_deleted_from_django_rqs_pages_leaves_no_frame_behind(
    staff_client: Client, attempt: Attempt, api: RecordingApi, redis_conn: Any, settings: Any
) -> None:
    settings.PROCTORING_JOB_ATTEMPTS = 1
    client_id = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)
    failed = [enqueuing.enqueue_frame(client_id, client_id, seq, frame) for seq in (1, 2)]
    api.script(Reply(503, {"error": "down"}))  # an outage: the failed frames keep their image
    run_worker_once()
    assert len(FailedJobRegistry(queue=policy.get_queue())) == 2
    kept = int(redis_conn.get(keys.failed_image_total()))
    assert kept > 0
    queued = enqueuing.enqueue_frame(client_id, client_id, 3, frame)

    delete = reverse("django_rq:delete_job", args=[QUEUE_INDEX, failed[0]])
    assert staff_client.post(delete).status_code == 302
    assert not redis_conn.exists(f"rq:job:{failed[0]}") and redis_conn.exists(keys.frame(failed[0]))

    scheduler = ProctoringScheduler(["proctoring"], connection=redis_conn)
    assert scheduler.acquire_locks() == {"proctoring"}
    scheduler.reconcile_counts()
    assert not redis_conn.exists(keys.frame(failed[0])), "the orphan is gone"
    assert redis_conn.exists(keys.frame(failed[1])) and redis_conn.exists(keys.frame(queued))
    assert int(redis_conn.get(keys.failed_image_total())) == kept // 2
    assert redis_conn.hget(keys.failed_image_sizes(), failed[0]) is None


def test_each_run_looks_at_a_bounded_number_of_keys_and_the_walk_goes_on(
    redis_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counters, "ORPHAN_SCAN_STEP", 10)
    monkeypatch.setattr(counters, "ORPHAN_SCAN_BUDGET", 20)
    orphans = [f"{index:032x}" for index in range(300)]
    for job_id in orphans:
        redis_conn.set(keys.frame(job_id), b"PF1\x00\x00")
    cursor, removed = counters.remove_orphan_frames(0, redis_conn)
    assert cursor != 0 and 0 < removed < 100, "one bounded step"
    runs = 1
    while cursor != 0:
        cursor, more = counters.remove_orphan_frames(cursor, redis_conn)
        removed += more
        runs += 1
    assert removed == 300 and runs > 5
    assert not list(redis_conn.scan_iter(match=keys.FRAME_MATCH))
