"""Results are committed in batches by one writer per process; each job learns of its own row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from proctoring.core.frames import FrameMeta
from proctoring.models import FrameResult
from proctoring.queue import enqueue
from proctoring.results.writer import store_result

pytestmark = pytest.mark.django_db(transaction=True)


def meta_for(attempt, seq: int) -> FrameMeta:
    moment = datetime(2026, 11, 29, 9, 0, seq % 60, tzinfo=UTC)
    return FrameMeta(str(attempt.pk), str(attempt.pk), seq, moment, moment, "image/jpeg")


def test_many_threads_each_find_their_row_committed_when_store_returns(attempt):
    def store(seq: int) -> bool:
        store_result(meta_for(attempt, seq), f"job-{seq}", {"seq": seq}).result(timeout=30)
        return FrameResult.objects.filter(job_id=f"job-{seq}").exists()  # committed, visible

    with ThreadPoolExecutor(max_workers=32) as pool:
        seen = list(pool.map(store, range(1, 201)))
    assert all(seen)
    assert FrameResult.objects.count() == 200
    assert FrameResult.objects.get(job_id="job-17").result == {"seq": 17}


def test_a_repeated_job_keeps_one_row_and_its_first_answer(attempt):
    store_result(meta_for(attempt, 1), "job-x", {"answer": "first"}).result(timeout=30)
    store_result(meta_for(attempt, 1), "job-x", {"answer": "again"}).result(timeout=30)
    assert list(FrameResult.objects.values_list("job_id", "result")) == [("job-x", {"answer": "first"})]


def test_a_row_that_cannot_be_stored_fails_alone_and_the_others_are_committed(attempt):
    import uuid

    from proctoring.results.writer import _writer

    now = datetime.now(UTC)
    gone = FrameMeta(str(uuid.uuid4()), str(uuid.uuid4()), 1, now, now, "image/jpeg")
    # Submitted together, so that they share a batch.
    futures = [store_result(meta_for(attempt, seq), f"good-{seq}", {}) for seq in (1, 2)]
    futures.insert(1, store_result(gone, "orphan", {}))
    _writer.wait_written(60)
    assert [future.exception() is None for future in futures] == [True, False, True]
    assert set(FrameResult.objects.values_list("job_id", flat=True)) == {"good-1", "good-2"}


@pytest.mark.slow
def test_a_worker_fails_a_job_whose_answer_cannot_be_stored_through_rqs_failure_path(
    api, start_worker, redis_conn, settings
):
    import uuid

    from rq.registry import FailedJobRegistry

    from proctoring.core.frames import parse_image
    from proctoring.queue import counters
    from tests.support import jpeg_bytes, wait_until

    settings.PROCTORING_JOB_ATTEMPTS = 1  # the retry policy is written into the job at enqueue
    client = str(uuid.uuid4())  # no such attempt: its result row cannot be stored
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    worker = start_worker()
    registry = FailedJobRegistry("proctoring", connection=redis_conn)
    wait_until(lambda: job_id in registry.get_job_ids(cleanup=False), 30, "failed, not lost")
    assert "IntegrityError" in worker.log()
    wait_until(lambda: counters.read([client])[client]["failed"] == 1, 10, "counted failed")
    assert len(api.calls) == 1 and not FrameResult.objects.filter(job_id=job_id).exists()
