"""Results are committed in batches by one writer per process, each job waiting for its own row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from proctoring.frames import FrameMeta
from proctoring.models import FrameResult
from proctoring.results import store_result

pytestmark = pytest.mark.django_db(transaction=True)


def meta_for(attempt, seq: int) -> FrameMeta:
    moment = datetime(2026, 11, 29, 9, 0, seq % 60, tzinfo=UTC)
    return FrameMeta(str(attempt.pk), str(attempt.pk), seq, moment, moment, "image/jpeg")


def test_many_threads_each_find_their_row_committed_when_store_returns(attempt):
    def store(seq: int) -> bool:
        store_result(meta_for(attempt, seq), f"job-{seq}", {"seq": seq})
        return FrameResult.objects.filter(job_id=f"job-{seq}").exists()  # committed, visible

    with ThreadPoolExecutor(max_workers=32) as pool:
        seen = list(pool.map(store, range(1, 201)))
    assert all(seen)
    assert FrameResult.objects.count() == 200
    assert FrameResult.objects.get(job_id="job-17").result == {"seq": 17}


def test_a_repeated_job_keeps_one_row_and_its_first_answer(attempt):
    store_result(meta_for(attempt, 1), "job-x", {"answer": "first"})
    store_result(meta_for(attempt, 1), "job-x", {"answer": "again"})
    assert list(FrameResult.objects.values_list("job_id", "result")) == [("job-x", {"answer": "first"})]
