"""The workers table counts frame jobs by what became of them, so that it adds up with the
overview: delivered (the completed frames), dropped unsent (expired), failed attempts
(RQ's count, retried or not) and failed for good (the failed list). Issue 19: DONE counted the
stale drops, FAILED the attempts (15) rather than the failed jobs (11)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from rq.job import Job
from rq.worker_registration import register

from exams.models import Attempt
from proctoring.core.frames import pack_frame, parse_image, unpack_frame
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import policy
from proctoring.store import keys
from proctoring.worker import job_counts
from proctoring.worker.workers import ProctoringWorker
from tests.support import RecordingApi, Reply, jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def received_earlier(connection: Any, job_id: str, seconds: float) -> None:
    meta, image = unpack_frame(connection.get(keys.frame(job_id)))
    older = dataclasses.replace(meta, received_at=meta.received_at - timedelta(seconds=seconds))
    connection.set(keys.frame(job_id), pack_frame(older, image))


def test_the_workers_table_counts_delivered_dropped_and_failed_jobs_as_the_overview_does(
    staff_client: Client, attempt: Attempt, api: RecordingApi, redis_conn: Any, settings: Any
) -> None:
    settings.PROCTORING_STORE_RESULTS = False
    client_id = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)
    jobs = [enqueuing.enqueue_frame(client_id, client_id, seq, frame) for seq in range(1, 6)]
    received_earlier(redis_conn, jobs[0], 3600)  # past the backfill horizon: dropped, never sent
    api.script(Reply(200), Reply(200), Reply(422, {"error": "bad"}), Reply(503, {"error": "down"}))
    connection = redis.Redis.from_url(django_settings.REDIS_URL)
    worker = ProctoringWorker([policy.get_queue()], connection=connection, concurrency=1)
    try:
        worker.work(burst=True)
        register(worker)  # a burst worker registers its death: listed again, as a running one is
    finally:
        worker._pool.shutdown()
        connection.close()
    assert len(api.calls) == 4

    data = json.loads(staff_client.get("/admin/proctoring/queue/stats.json").content)
    [row] = data["workers"]
    queue = data["queue"]
    completed = sum(minute["completed"] for minute in data["throughput"])
    assert (queue["failed"], queue["retrying"], queue["stale_dropped"], completed) == (1, 1, 1, 2)
    assert (row["delivered"], row["dropped"], row["failed_for_good"]) == (completed, 1, queue["failed"])
    assert row["failed"] == 2  # attempts: the refused frame's, and the first of the retried one
    page = staff_client.get("/admin/proctoring/queue/").content.decode()
    assert "<th" in page and ">Expired</th>" in page and ">Failed for good</th>" in page


def test_a_success_outside_a_batch_writes_its_job_s_writes_and_counts_a_frame_job(
    attempt: Attempt, redis_conn: Any
) -> None:
    client_id = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), 1 << 20)
    delivered, dropped = (
        Job.fetch(enqueuing.enqueue_frame(client_id, client_id, seq, frame), connection=redis_conn)
        for seq in (1, 2)
    )
    other = policy.get_queue().enqueue("os.getpid")

    def write(pipe: Any) -> None:
        pipe.set("written", 1)

    job_counts.write_success(redis_conn, "rq:worker:w", delivered, [write])
    job_counts.write_success(redis_conn, "rq:worker:w", dropped, [])
    job_counts.write_success(redis_conn, "rq:worker:w", other, [])
    assert redis_conn.get("written") == b"1"
    assert redis_conn.hgetall("rq:worker:w") == {
        keys.WORKER_DELIVERED.encode(): b"1",
        keys.WORKER_DROPPED.encode(): b"1",
    }
