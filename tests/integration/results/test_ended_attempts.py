"""An attempt's end loses nothing acked: a frame analysed after the end is stored like any other,
and an incident it opens is born closed at the end (the end's closing could not see it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exams import lifecycle
from exams.models import Attempt
from proctoring.core.frames import FrameMeta
from proctoring.models import FrameResult, Incident
from proctoring.results import writer as results

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


def store(attempt: Attempt, seq: int, seconds: float, flags: list[str]) -> str:
    job_id = f"{attempt.pk.hex[:8]}{seq:024d}"
    meta = FrameMeta(
        client_id=str(attempt.pk),
        attempt_id=str(attempt.pk),
        seq=seq,
        captured_at=T0 + timedelta(seconds=seconds),
        received_at=T0 + timedelta(seconds=seconds + 0.2),
        content_type="image/jpeg",
    )
    results.store_result(meta, job_id, {"flags": flags}, b"img").result(timeout=30)
    return job_id


def test_an_incident_opened_by_a_frame_analysed_after_the_end_is_born_closed(attempt):
    store(attempt, 1, 0, ["no_face"])
    ended = lifecycle.apply(attempt, lifecycle.Action.TERMINATE, reason="over").attempt
    assert Incident.objects.get(kind="no_face").closed_at == ended.ended_at, "closed at the end"
    late = store(attempt, 2, 1, ["multiple_faces"])  # acked before the end, analysed after
    assert FrameResult.objects.filter(job_id=late, attempt=attempt).exists(), "its result is kept"
    assert Incident.objects.get(kind="multiple_faces").closed_at == ended.ended_at


def test_an_incident_of_an_attempt_that_goes_on_is_open(attempt):
    store(attempt, 1, 0, ["no_face"])
    assert Incident.objects.get(kind="no_face").closed_at is None
