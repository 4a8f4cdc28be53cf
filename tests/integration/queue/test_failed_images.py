"""The failed frames' image caps (proctoring/queue/failed_images.py, store/scripts/failed_image.lua)
on the private Redis, without a worker: what is cut, what is counted, what is left alone."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from proctoring.core.frames import FrameMeta, pack_frame
from proctoring.queue import envelopes, failed_images, policy
from proctoring.store import keys
from proctoring.store.connections import get_redis

IMAGE = b"\xff\xd8\xff" + b"x" * 997  # 1,000 bytes


@pytest.fixture
def caps(settings: Any) -> None:
    settings.PROCTORING_FAILED_BYTES_MAX = 3_500
    settings.PROCTORING_FAILED_BYTES_PER_CLIENT = 2_500


def fail(job_id: str, client_id: str, mode: str = failed_images.KEEP, in_registry: bool = True) -> None:
    """Stores the job's frame, puts it in the failed registry, and settles its image."""
    connection = get_redis()
    now = datetime.now(UTC)
    meta = FrameMeta(client_id, client_id, 1, now, now, "image/jpeg")
    connection.set(keys.frame(job_id), pack_frame(meta, IMAGE), ex=600)
    if in_registry:
        connection.zadd(FailedJobRegistry(queue=policy.get_queue()).key, {job_id: time.time() + 600})
    with connection.pipeline() as pipe:
        failed_images.settle(pipe, job_id, client_id, mode)
        pipe.execute()
    time.sleep(0.002)  # distinct failure times: the oldest is cut first


def kept(*job_ids: str) -> list[str]:
    return [job_id for job_id in job_ids if envelopes.read_frame(job_id) is not None]


def test_a_cut_frame_keeps_its_header_and_expiry(caps: None) -> None:
    fail("refused", "a", failed_images.CUT)
    assert kept("refused") == []
    assert envelopes.read_meta("refused") is not None
    assert envelopes.image_sizes(["refused", "gone"]) == [0, None]
    assert 0 < get_redis().ttl(keys.frame("refused")) <= 600
    assert get_redis().get(keys.failed_image_total()) is None, "a refusal's image is never counted"


def test_the_caps_cut_the_oldest_per_client_then_in_all(caps: None) -> None:
    for job_id in ("a1", "a2", "a3"):
        fail(job_id, "a")
    assert kept("a1", "a2", "a3") == ["a2", "a3"], "2,500 bytes per client: two images"
    fail("b1", "b")
    fail("b2", "b")
    assert kept("a1", "a2", "a3", "b1", "b2") == ["a3", "b1", "b2"], "3,500 bytes in all: three"
    assert get_redis().hget(keys.totals(), keys.FAILED_IMAGES_EVICTED) == b"2"
    assert get_redis().get(keys.failed_image_total()) == b"3000"


def test_a_retried_frame_is_forgotten_and_never_cut(caps: None) -> None:
    fail("a1", "a")
    # Retried: it leaves the failed registry and the count; its queued image stays whole.
    with get_redis().pipeline() as pipe:
        failed_images.settle(pipe, "a1", "a", failed_images.FORGET)
        pipe.execute()
    get_redis().zrem(FailedJobRegistry(queue=policy.get_queue()).key, "a1")
    assert get_redis().get(keys.failed_image_total()) == b"0"
    # A stale entry for a job no longer failed (as after RQ's own requeue) is dropped, not cut.
    fail("a2", "a")
    get_redis().zrem(FailedJobRegistry(queue=policy.get_queue()).key, "a2")
    for job_id in ("a3", "a4"):
        fail(job_id, "a")
    assert kept("a1", "a2", "a3", "a4") == ["a1", "a2", "a3", "a4"]
    assert get_redis().hget(keys.totals(), keys.FAILED_IMAGES_EVICTED) is None
