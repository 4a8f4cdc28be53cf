"""Retries with exponential backoff, run by `python manage.py rqworker proctoring` exactly as typed,
and what a finally failed frame keeps in RQ's failed registry."""

from __future__ import annotations

import pytest
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import envelopes, policy
from proctoring.store import keys
from proctoring.worker import outcomes
from tests.support import Reply, failure_text, free_port, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def enqueue(attempt, seq: int = 1) -> str:
    return enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, parse_image(jpeg_bytes(), 1 << 20))


def failed_for_good(redis_conn, job_id: str) -> Job:
    wait_until(
        lambda: job_id in FailedJobRegistry("proctoring", connection=redis_conn), 40, "job in failed registry"
    )
    return Job.fetch(job_id, connection=redis_conn)


def test_three_attempts_back_off_2s_then_4s_and_keep_the_failure(
    attempt, api, start_worker, redis_conn, settings
):
    api.script(Reply(503, {"error": "overloaded", "detail": "try later"}))
    job_id = enqueue(attempt)
    start_worker()

    job = failed_for_good(redis_conn, job_id)
    assert len(api.calls) == 3, "PROCTORING_JOB_ATTEMPTS=3 means one try and two retries"
    first_gap = api.calls[1].at - api.calls[0].at
    second_gap = api.calls[2].at - api.calls[1].at
    assert 1.0 <= first_gap <= 3.0, f"first retry after {first_gap:.2f}s, expected 2s ± 1s"
    assert 3.0 <= second_gap <= 5.0, f"second retry after {second_gap:.2f}s, expected 4s ± 1s"
    assert {call.headers["Idempotency-Key"] for call in api.calls} == {job_id}, "same key on every retry"

    assert job.get_status() == JobStatus.FAILED
    assert job.meta["api_status"] == 503
    assert '"overloaded"' in job.meta["api_body"]
    text = failure_text(job)
    assert "Traceback" in text
    assert "ApiUnavailable: API answered 503" in text and "try later" in text
    assert outcomes.load_frame(job_id) == (envelopes.read_meta(job_id), jpeg_bytes()), "the frame is kept"
    frame_ttl = redis_conn.ttl(keys.frame(job_id))
    assert 0 < frame_ttl <= settings.PROCTORING_FAILED_TTL, "as long as the failed job, no longer"
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 0, "a failed frame frees its slot"
    assert not FrameResult.objects.exists()


def test_a_retry_that_succeeds_delivers_once_with_the_same_key(attempt, api, start_worker, redis_conn):
    api.script(Reply(502, "bad gateway"), Reply(200, {"flags": []}))
    job_id = enqueue(attempt)
    start_worker()
    wait_until(lambda: FrameResult.objects.filter(job_id=job_id).exists(), 30, "delivered on retry")
    assert [call.headers["Idempotency-Key"] for call in api.calls] == [job_id, job_id]
    assert len(FailedJobRegistry("proctoring", connection=redis_conn)) == 0
    wait_until(lambda: not redis_conn.exists(Job.key_for(job_id)), 10, "job key removed")


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_fails_at_once_without_retry(attempt, api, start_worker, redis_conn, status):
    api.script(Reply(status, {"error": "rejected", "detail": f"status {status}"}))
    job_id = enqueue(attempt)
    start_worker()
    job = failed_for_good(redis_conn, job_id)
    assert len(api.calls) == 1
    assert job_id not in ScheduledJobRegistry("proctoring", connection=redis_conn), "no retry is scheduled"
    assert job.meta["api_status"] == status
    assert f"API answered {status}" in failure_text(job)
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 0


def test_2xx_that_is_not_json_fails_at_once(attempt, api, start_worker, redis_conn):
    api.script(Reply(200, b"<html>proxy login</html>", content_type="text/html"))
    job_id = enqueue(attempt)
    start_worker()
    job = failed_for_good(redis_conn, job_id)
    assert len(api.calls) == 1
    assert "not JSON" in failure_text(job)


def test_429_is_retried(attempt, api, start_worker, redis_conn, settings):
    settings.PROCTORING_BACKOFF_SECONDS = 1
    api.script(Reply(429, {"error": "slow down"}), Reply(200, {}))
    job_id = enqueue(attempt)
    start_worker()
    wait_until(lambda: FrameResult.objects.filter(job_id=job_id).exists(), 30, "delivered after 429")
    assert len(api.calls) == 2


def test_timeouts_are_retried_then_failed(attempt, api, start_worker, redis_conn, settings):
    settings.PROCTORING_JOB_ATTEMPTS = 2
    settings.PROCTORING_BACKOFF_SECONDS = 1
    settings.PROCTORING_API_TIMEOUT = 0.3
    api.script(Reply(200, {}, delay=1.5))
    job_id = enqueue(attempt)
    start_worker()
    job = failed_for_good(redis_conn, job_id)
    assert len(api.calls) == 2
    assert "timed out" in failure_text(job)
    assert job.meta["api_status"] is None


def test_connection_refused_is_retried_then_failed(attempt, start_worker, redis_conn, settings):
    settings.PROCTORING_JOB_ATTEMPTS = 2
    settings.PROCTORING_BACKOFF_SECONDS = 1
    settings.PROCTORING_API_URL = f"http://127.0.0.1:{free_port()}/v1/analyze"  # nobody listens
    job_id = enqueue(attempt)
    start_worker()
    job = failed_for_good(redis_conn, job_id)
    assert "API unreachable" in failure_text(job)
    assert job.meta["last_error"].startswith("ApiUnavailable")


@pytest.mark.parametrize(
    ("attempts", "backoff", "intervals"),
    [(3, 2, [2, 4]), (4, 2, [2, 4, 8]), (2, 5, [5]), (1, 2, None)],
)
def test_retry_policy_follows_attempts_and_backoff(settings, attempts, backoff, intervals):
    settings.PROCTORING_JOB_ATTEMPTS = attempts
    settings.PROCTORING_BACKOFF_SECONDS = backoff
    retry = policy.retry_policy()
    if intervals is None:
        assert retry is None
    else:
        assert retry is not None
        assert (retry.max, list(retry.intervals)) == (attempts - 1, intervals)


def test_a_frame_whose_bytes_are_gone_fails_at_once_without_calling_the_api(
    attempt, api, start_worker, redis_conn
):
    job_id = enqueue(attempt)
    redis_conn.delete(keys.frame(job_id))  # e.g. deleted by an operator
    start_worker()
    job = failed_for_good(redis_conn, job_id)
    assert api.calls == []
    assert "FrameMissing" in failure_text(job)
    assert job_id not in ScheduledJobRegistry("proctoring", connection=redis_conn)
