"""What a finally failed frame keeps in Redis, with a real worker against the recording API: a
frame the API refused (4xx) keeps its metadata and hash but never its image; one that failed
for an outage keeps its image under a global and a per-client byte cap, oldest dropped first."""

from __future__ import annotations

import hashlib
import time

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry

from proctoring.core.exceptions import RateLimited
from proctoring.core.frames import parse_image
from proctoring.ops import failed_jobs, stats
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import envelopes
from proctoring.store import keys
from tests.admin_pages import FAILED, frame_url, job_url
from tests.support import Reply, jpeg_bytes, noise_jpeg, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def enqueue_all(client_id: str, images: list[bytes], deadline: float) -> list[str]:
    """Queues every image as the client's next frame, waiting for a free slot when the client
    has its `PROCTORING_MAX_PENDING_PER_CLIENT` frames pending."""
    job_ids = []
    for seq, image in enumerate(images, start=1):
        frame = parse_image(image, 1 << 20)
        while True:
            try:
                job_ids.append(enqueuing.enqueue_frame(client_id, client_id, seq, frame))
                break
            except RateLimited:
                assert time.monotonic() < deadline, f"frame {seq} never found a slot"
                time.sleep(0.01)
    return job_ids


def wait_failed(redis_conn, job_ids: list[str], timeout: float) -> None:
    registry = FailedJobRegistry("proctoring", connection=redis_conn)
    wait_until(lambda: set(job_ids) <= set(registry.get_job_ids(cleanup=False)), timeout, "all failed")


def test_refused_frames_keep_metadata_not_images_so_one_client_cannot_fill_redis(
    attempt, api, start_worker, redis_conn, staff_client, settings
):
    # The gateway's own block on a client refused again and again is off: the storage bound holds
    # without it (tests/processes/gateway/test_refused_stream.py has the two together).
    settings.PROCTORING_REFUSALS_TO_BLOCK = 0
    image = noise_jpeg(900, 640, 90)
    assert len(image) >= 450_000, f"a frame of about 500 KB, got {len(image)}"
    api.script(Reply(400, {"error": "bad_image", "detail": "refused"}))
    start_worker()
    before = redis_conn.info("memory")["used_memory"]

    client = str(attempt.pk)
    job_ids = enqueue_all(client, [image] * 200, time.monotonic() + 120)
    wait_failed(redis_conn, job_ids, 60)

    grown = redis_conn.info("memory")["used_memory"] - before
    print(f"200 refused frames of {len(image):,} B: Redis grew by {grown / 1e6:.2f} MB")
    assert grown <= 20 * 1024 * 1024, f"Redis grew by {grown / 1e6:.1f} MB for 200 refused frames"
    digest = hashlib.sha256(image).hexdigest()
    for job_id in job_ids[:5]:
        assert envelopes.read_meta(job_id) is not None, "the frame's metadata is kept"
        assert envelopes.read_frame(job_id) is None, "its image is not"
        assert Job.fetch(job_id, connection=redis_conn).meta["image_sha256"] == digest

    response = staff_client.get(FAILED)
    assert response.context["total"] == 200
    shown = []
    for number in range(1, 5):
        rows = staff_client.get(FAILED + f"?page={number}").context["rows"]
        assert all(row.image_bytes == 0 for row in rows), "every refused frame is listed without image"
        shown += [row.job_id for row in rows]
    assert sorted(shown) == sorted(job_ids)
    assert "image not kept" in response.content.decode()
    detail = staff_client.get(job_url(job_ids[0])).content.decode()
    assert "image not kept" in detail and digest in detail
    assert f'<img src="{frame_url(job_ids[0])}"' not in detail
    assert staff_client.get(frame_url(job_ids[0])).status_code == 404


def test_frames_failed_by_outages_keep_images_under_the_byte_caps_oldest_dropped_first(
    api, start_worker, redis_conn, settings
):
    settings.PROCTORING_JOB_ATTEMPTS = 1  # the enqueue writes the job's retries
    api.script(Reply(503, {"error": "overloaded"}))
    image = jpeg_bytes(64, 48)
    size = len(image)
    # Room for 5 images in all and 3 of one client; one job at a time, so frames fail in order;
    # every 503 fails its frame at once, and the circuit stays closed.
    start_worker(
        PROCTORING_JOB_ATTEMPTS="1",
        PROCTORING_BREAKER_THRESHOLD="0",
        PROCTORING_WORKER_CONCURRENCY="1",
        PROCTORING_FAILED_BYTES_MAX=str(5 * size + size // 2),
        PROCTORING_FAILED_BYTES_PER_CLIENT=str(3 * size + size // 2),
    )
    deadline = time.monotonic() + 60
    first = enqueue_all("client-a", [image] * 5, deadline)
    wait_failed(redis_conn, first, 30)
    kept_a = [job_id for job_id in first if envelopes.read_frame(job_id) is not None]
    assert kept_a == first[-3:], "a client keeps its 3 newest images"
    assert all(envelopes.read_meta(job_id) is not None for job_id in first), "and every frame's metadata"

    second = enqueue_all("client-b", [image] * 3, deadline)
    wait_failed(redis_conn, second, 30)
    kept = [job_id for job_id in first + second if envelopes.read_frame(job_id) is not None]
    assert kept == first[-2:] + second, "the global cap drops the oldest images first"
    assert stats.queue_figures(with_freshness=False)["failed_images_evicted"] == 2 + 1
    assert int(redis_conn.get(keys.failed_image_total())) == 5 * size

    # A deleted frame's image no longer counts; a retried one that fails again counts once.
    assert failed_jobs.delete(second[0])
    assert int(redis_conn.get(keys.failed_image_total())) == 4 * size
    assert failed_jobs.retry(second[1])
    wait_failed(redis_conn, [second[1]], 30)
    wait_until(lambda: redis_conn.zscore(keys.failed_images(), second[1]), 10, "kept again")
    assert int(redis_conn.get(keys.failed_image_total())) == 4 * size
    assert int(redis_conn.hget(keys.failed_image_client_bytes(), "client-b")) == 2 * size


def test_retrying_a_refused_frame_fails_it_again_as_missing_without_calling_the_api(
    attempt, api, start_worker, redis_conn
):
    api.script(Reply(400, {"error": "bad_image"}))
    start_worker()
    [job_id] = enqueue_all(str(attempt.pk), [jpeg_bytes()], time.monotonic() + 10)
    wait_failed(redis_conn, [job_id], 30)
    digest = Job.fetch(job_id, connection=redis_conn).meta["image_sha256"]

    assert failed_jobs.retry(job_id)
    wait_until(
        lambda: "FrameMissing" in str(Job.fetch(job_id, connection=redis_conn).meta.get("last_error")),
        30,
        "the retried job failed again",
    )
    wait_failed(redis_conn, [job_id], 30)
    job = Job.fetch(job_id, connection=redis_conn)
    assert "not kept" in job.meta["last_error"]
    assert job.meta["image_sha256"] == digest, "what the image was is still known"
    assert len(api.calls) == 1, "the API is not sent a frame without its image"
    assert envelopes.read_meta(job_id) is not None
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 0
