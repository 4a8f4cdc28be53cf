"""A real `rqworker proctoring` forwards queued frames to a recording API server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry

from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.support import Reply, jpeg_bytes, png_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def enqueue(attempt, seq: int, data: bytes, captured_at: datetime | None = None) -> str:
    frame = parse_image(data, 1 << 20, captured_at)
    return enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, frame)


def test_frame_is_delivered_intact_with_fields_and_headers(attempt, api, settings, start_worker, redis_conn):
    settings.PROCTORING_API_KEY = "sekret-key"
    api.script(Reply(200, {"faces": 1, "flags": ["too_dark"]}))
    # Taken 1.25 s before it reached the gateway: within PROCTORING_CAPTURED_AT_WINDOW, so kept.
    captured = datetime.now(UTC) - timedelta(seconds=1.25)
    image = jpeg_bytes(320, 240)
    job_id = enqueue(attempt, 7, image, captured)
    start_worker()

    wait_until(lambda: FrameResult.objects.filter(job_id=job_id).exists(), 30, "result stored")
    [call] = api.calls
    assert call.path == "/v1/analyze"
    assert call.headers["Authorization"] == "Bearer sekret-key"
    assert call.headers["Idempotency-Key"] == job_id
    assert call.headers["Content-Type"].startswith("multipart/form-data")
    filename, content_type, data = call.files["image"]
    assert data == image and content_type == "image/jpeg" and filename.endswith(".jpg")
    assert call.fields == {
        "client_id": str(attempt.pk),
        "attempt_id": str(attempt.pk),
        "seq": "7",
        "captured_at": captured.isoformat(),
    }
    result = FrameResult.objects.get(job_id=job_id)
    assert result.result == {"faces": 1, "flags": ["too_dark"]}
    assert (result.attempt_id, result.seq, result.captured_at) == (attempt.pk, 7, captured)
    assert captured < result.received_at < captured + timedelta(seconds=30), "the gateway's clock, kept"


def test_delivered_job_leaves_nothing_in_redis(attempt, api, start_worker, redis_conn):
    job_ids = [enqueue(attempt, seq, png_bytes()) for seq in (1, 2, 3)]
    start_worker()
    wait_until(lambda: FrameResult.objects.count() == 3, 30, "three results")
    wait_until(lambda: not any(redis_conn.exists(Job.key_for(j)) for j in job_ids), 10, "job keys gone")
    leftovers = [key for key in redis_conn.scan_iter("*") if any(j.encode() in key for j in job_ids)]
    assert leftovers == [], "no key of a delivered job is left (result_ttl=0)"
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 0, "the client's slots are free"
    assert len(FailedJobRegistry("proctoring", connection=redis_conn)) == 0
    assert api.calls[0].files["image"][1] == "image/png"


def test_no_api_key_means_no_authorization_header(attempt, api, settings, start_worker):
    settings.PROCTORING_API_KEY = ""
    job_id = enqueue(attempt, 1, jpeg_bytes())
    start_worker()
    wait_until(lambda: FrameResult.objects.filter(job_id=job_id).exists(), 30, "result stored")
    assert "Authorization" not in api.calls[0].headers
