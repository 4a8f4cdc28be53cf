"""Results are committed in batches by one writer per process; each job learns of its own row.

Here the tests that start real processes;
the others are in tests/integration/results/test_results.py."""

from __future__ import annotations

import pytest
from django.db import connection

from proctoring.models import FrameResult
from proctoring.queue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_a_worker_fails_a_job_whose_answer_cannot_be_stored_through_rqs_failure_path(
    api, attempt, start_worker, redis_conn, settings
):
    from rq.registry import FailedJobRegistry

    from proctoring.core.frames import parse_image
    from proctoring.queue import counters
    from tests.support import jpeg_bytes, wait_until

    settings.PROCTORING_JOB_ATTEMPTS = 1  # the retry policy is written into the job at enqueue
    client = str(attempt.pk)
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    # The results table is out of reach (a broken database): the row cannot be stored. (An
    # attempt that no longer exists is not that: its answer is dropped, in the test below.)
    table = FrameResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_away"')
    try:
        worker = start_worker()
        registry = FailedJobRegistry("proctoring", connection=redis_conn)
        wait_until(lambda: job_id in registry.get_job_ids(cleanup=False), 30, "failed, not lost")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{table}_away" RENAME TO "{table}"')
    assert "OperationalError" in worker.log()
    wait_until(lambda: counters.read([client])[client]["failed"] == 1, 10, "counted failed")
    assert len(api.calls) == 1 and not FrameResult.objects.filter(job_id=job_id).exists()


@pytest.mark.slow
def test_a_worker_drops_the_answer_of_an_attempt_that_no_longer_exists_once_and_counts_it(
    api, start_worker, redis_conn, settings
):
    import uuid

    from rq.job import Job
    from rq.registry import FailedJobRegistry

    from proctoring.core.frames import parse_image
    from proctoring.store import keys
    from tests.support import jpeg_bytes, wait_until

    client = str(uuid.uuid4())  # no such attempt: erased while its frame waited
    job_id = enqueue.enqueue_frame(client, client, 1, parse_image(jpeg_bytes(), 1 << 20))
    worker = start_worker()
    wait_until(lambda: not redis_conn.exists(Job.key_for(job_id)), 30, "the job ended")
    assert redis_conn.hget(keys.totals(), keys.RESULTS_DROPPED_ERASED) == b"1"
    assert job_id not in FailedJobRegistry("proctoring", connection=redis_conn).get_job_ids(cleanup=False)
    assert "no longer exists (erased)" in worker.log() and "IntegrityError" not in worker.log()
    # One API call, no retry, no row, nothing of the client kept for its page.
    assert len(api.calls) == 1 and not FrameResult.objects.filter(job_id=job_id).exists()
    assert not redis_conn.exists(keys.client_times(client), keys.client_latest(client), keys.frame(job_id))
