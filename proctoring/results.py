"""Storing the API's answers."""

from __future__ import annotations

from typing import Any

from proctoring.frames import FrameMeta
from proctoring.models import FrameResult


def store_result(meta: FrameMeta, job_id: str, answer: dict[str, Any]) -> FrameResult:
    """Keeps the API's answer for a frame; a repeated job overwrites its own row, never adds one."""
    result, _ = FrameResult.objects.update_or_create(
        job_id=job_id,
        defaults={
            "attempt_id": meta.attempt_id,
            "seq": meta.seq,
            "captured_at": meta.captured_at,
            "received_at": meta.received_at,
            "result": answer,
        },
    )
    return result
