"""Test frames: one frame from a test client, through the real queue, workers and API, to see
that the pipeline works end to end (`manage.py proctoring_test_job`, the admin's "Send a test
frame").

The test client is an attempt of its own (an inactive user that cannot log in, at an inactive
exam), so its frames are counted, listed and stored like any other client's, and never mixed
with a real exam taker's.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw
from rq.exceptions import NoSuchJobError
from rq.job import Job

from exams.models import Attempt, Exam
from proctoring.core.frames import parse_image
from proctoring.core.selftest import TEST_EXAM_SLUG
from proctoring.models import FrameResult
from proctoring.queue import enqueue, policy
from proctoring.store import keys
from proctoring.store.connections import get_redis

TEST_USERNAME = "proctoring-test-client"
# Outcomes after which nothing more happens to a job.
FINAL = {"delivered", "failed", "gone"}


@dataclass
class Outcome:
    state: str  # delivered, failed, gone (expired or deleted), or RQ's status meanwhile
    detail: str = ""
    result: dict[str, Any] | None = field(default=None)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "detail": self.detail, "result": self.result}


def selftest_attempt() -> Attempt:
    """The test client's attempt (created on first use)."""
    user, created = get_user_model().objects.get_or_create(
        username=TEST_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    exam, _ = Exam.objects.get_or_create(
        slug=TEST_EXAM_SLUG,
        defaults={"title": "Pipeline test frames (not an exam)", "is_active": False},
    )
    attempt = Attempt.objects.filter(user=user, exam=exam, ended_at=None).first()
    return attempt or Attempt.objects.create(user=user, exam=exam)


def selftest_image() -> bytes:
    """A small JPEG that any image API can decode (a grey card with a frame)."""
    image = Image.new("RGB", (320, 240), (128, 128, 128))
    ImageDraw.Draw(image).rectangle((40, 30, 280, 210), outline=(240, 240, 240), width=6)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def enqueue_test_frame(priority: bool = False, delay: float = 0) -> tuple[str, Attempt]:
    """Queues one test frame; returns its job id and the test attempt.

    Raises what `enqueue.enqueue_frame` raises (the queue is full, Redis is unreachable, a bad
    delay).
    """
    attempt = selftest_attempt()
    seq = int(get_redis().incr(keys.selftest_seq()))
    frame = parse_image(selftest_image(), 1 << 20)
    job_id = enqueue.enqueue_frame(
        attempt.client_id, str(attempt.pk), seq, frame, priority=priority, delay=delay
    )
    return job_id, attempt


def outcome(job_id: str) -> Outcome:
    """What has become of frame job `job_id` so far."""
    row = FrameResult.objects.filter(job_id=job_id).first()
    if row is not None:
        return Outcome("delivered", "the API answered and the answer is stored", row.result)
    queue = policy.get_queue()
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return Outcome("gone", "no result and no job: expired past the backfill horizon, or deleted")
    status = job.get_status(refresh=False).value
    if status == "failed":
        return Outcome("failed", str(job.meta.get("last_error") or "failed"))
    return Outcome(status, str(job.meta.get("last_error") or ""))


def wait_for_outcome(job_id: str, timeout: float, poll: float = 0.1) -> Outcome:
    """Polls until the job's outcome is final or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        current = outcome(job_id)
        if current.final or time.monotonic() >= deadline:
            return current
        time.sleep(poll)
