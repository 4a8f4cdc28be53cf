"""Results are committed in batches by one writer per process; each job learns of its own row.

Here the tests that start real processes;
the others are in tests/integration/results/test_results.py."""

from __future__ import annotations

import pytest

from proctoring.models import FrameResult
from proctoring.queue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


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
