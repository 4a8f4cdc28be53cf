"""Analysed frames for the review and export tests, recorded as the result writer records them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from exams.models import Attempt
from proctoring.models import FrameResult
from proctoring.results import incidents


def stream(attempt: Attempt, flags: list[list[str]], start: datetime | None = None) -> None:
    """One analysed frame a second with these flags, recorded as the result writer would."""
    start = start or timezone.now() - timedelta(minutes=5)
    rows = [
        FrameResult(
            attempt=attempt,
            seq=n + 1,
            captured_at=start + timedelta(seconds=n),
            received_at=start + timedelta(seconds=n),
            job_id=f"{attempt.pk.hex}{n:08d}",
            result={"flags": frame_flags},
        )  # fmt: skip
        for n, frame_flags in enumerate(flags)
    ]
    with transaction.atomic():
        incidents.record(FrameResult.objects.bulk_create(rows))
