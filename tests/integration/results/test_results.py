"""Results are committed in batches by one writer per process; each job learns of its own row.

Here the tests that need no process;
the others are in tests/processes/results/test_results.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from proctoring.core.frames import FrameMeta
from proctoring.models import FrameResult
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


def test_an_answer_for_an_erased_attempt_is_dropped_counted_and_the_others_are_committed(
    attempt, settings, tmp_path, staff_client
):
    import time
    import uuid

    from proctoring.results.writer import _writer
    from proctoring.store import keys
    from proctoring.store.connections import get_redis

    settings.MEDIA_ROOT = str(tmp_path)
    now = datetime.now(UTC)
    gone = FrameMeta(str(uuid.uuid4()), str(uuid.uuid4()), 1, now, now, "image/jpeg")
    started = time.monotonic()
    # Submitted together, so that they share a batch.
    futures = [store_result(meta_for(attempt, seq), f"good-{seq}", {}) for seq in (1, 2)]
    futures.insert(1, store_result(gone, "orphan", {"flags": ["no_face"]}, b"\xff\xd8\xff image"))
    _writer.wait_written(60)
    # Dropped at once, not tried again (a storm of retries, and the job failed and run again).
    assert [future.result() for future in futures] == [True, False, True]
    assert time.monotonic() - started < 1.0
    assert set(FrameResult.objects.values_list("job_id", flat=True)) == {"good-1", "good-2"}
    assert get_redis().hget(keys.totals(), keys.RESULTS_DROPPED_ERASED) == b"1"
    assert (
        'proctoring_frames_total{outcome="dropped_erased"} 1.0'
        in staff_client.get("/metrics").content.decode()
    )
    assert list(tmp_path.iterdir()) == [], "no snapshot file or folder of the erased attempt"
