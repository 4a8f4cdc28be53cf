"""From flags to incidents: the grouping rule as plain functions, the writer's findings,
incidents and snapshots in the database, the risk summary, and the whole path through a real
worker and the reference API's real face detector.

Here the tests that need no process;
the others are in tests/processes/results/test_incidents.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from exams.models import Attempt
from proctoring.core.frames import FrameMeta
from proctoring.models import Finding, FrameResult, Incident, Severity
from proctoring.results import incidents, snapshots
from proctoring.results import writer as results

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
GAP = timedelta(seconds=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the rule ----------------------------------------------------------------------------------


@dataclass
class Span:
    first_seen: datetime
    last_seen: datetime
    frames: int = 1


def group(times: Iterable[datetime], within: timedelta) -> list[Span]:
    """The incidents that flagged frames captured at `times` (one kind, one attempt, in the
    order they were analysed) make by `incidents.joins`, as `incidents.record` applies it: each
    frame extends the latest incident it joins, or opens a new one."""
    spans: list[Span] = []
    for at in times:
        span = next(
            (s for s in reversed(spans) if incidents.joins(s.first_seen, s.last_seen, at, within)), None
        )
        if span is None:
            spans.append(Span(at, at))
        else:
            span.first_seen, span.last_seen = min(span.first_seen, at), max(span.last_seen, at)
            span.frames += 1
    return spans


def test_consecutive_flagged_frames_are_one_incident_and_a_gap_closes_it():
    spans = group([at(0), at(0.5), at(1), at(1.5), at(30), at(30.5)], GAP)
    assert [(s.first_seen, s.last_seen, s.frames) for s in spans] == [
        (at(0), at(1.5), 4),
        (at(30), at(30.5), 2),
    ]


def test_a_frame_analysed_late_joins_the_incident_it_falls_in():
    spans = group([at(0), at(4), at(2), at(-3)], GAP)
    assert [(s.first_seen, s.last_seen, s.frames) for s in spans] == [(at(-3), at(4), 4)]


def test_the_gap_is_inclusive_and_one_tick_more_opens_a_new_incident():
    assert len(group([at(0), at(10)], GAP)) == 1
    assert len(group([at(0), at(10.001)], GAP)) == 2


def test_severities_and_confidence():
    assert incidents.severity_of("camera_blocked") == Severity.HIGH
    assert incidents.severity_of("something_new") == Severity.MEDIUM
    assert incidents.confidence({"confidence": {"no_face": 0.8}}, "no_face") == 0.8
    assert incidents.confidence({"confidence": {"no_face": 7}}, "no_face") is None
    assert incidents.confidence({"confidence": "high"}, "no_face") is None


# --- in the database, through the result writer -----------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


def store(attempt: Attempt, seq: int, seconds: float, flags: list[str], image: bytes = b"img") -> str:
    job_id = f"{attempt.pk.hex[:8]}{seq:024d}"
    meta = FrameMeta(
        client_id=str(attempt.pk),
        attempt_id=str(attempt.pk),
        seq=seq,
        captured_at=at(seconds),
        received_at=at(seconds + 0.2),
        content_type="image/jpeg",
    )
    results.store_result(meta, job_id, {"flags": flags}, image).result(timeout=30)
    return job_id


@pytestmark_db
def test_the_writer_turns_flags_into_findings_incidents_and_one_snapshot_each(attempt, settings):
    settings.PROCTORING_INCIDENT_GAP_SECONDS = 10
    first = store(attempt, 1, 0, ["no_face"], b"first-image")
    store(attempt, 2, 0.5, ["no_face", "too_dark"], b"second")
    store(attempt, 3, 1.0, [])
    store(attempt, 4, 40, ["no_face"], b"later")
    no_face = list(Incident.objects.filter(attempt=attempt, kind="no_face").order_by("first_seen"))
    assert [(i.first_seen, i.last_seen, i.frame_count) for i in no_face] == [
        (at(0), at(0.5), 2),
        (at(40), at(40), 1),
    ]
    [dark] = Incident.objects.filter(kind="too_dark")
    assert (dark.frame_count, dark.severity) == (1, Severity.LOW)
    assert Finding.objects.filter(attempt=attempt).count() == 4, "one per flag, none for the clean frame"
    assert no_face[0].review_status == Incident.Review.PENDING
    # Only an incident's first frame keeps its image.
    snapshot = no_face[0].snapshot
    assert snapshot is not None and snapshot.job_id == first
    assert snapshots.read(snapshot.snapshot_key) == (b"first-image", "image/jpeg")
    stored_images = FrameResult.objects.exclude(snapshot_key="").count()
    assert stored_images == 3, "three incidents, three snapshots; clean and extending frames none"
    row = FrameResult.objects.get(job_id=first)
    assert row.sha256 == hashlib.sha256(b"first-image").hexdigest()
    assert row.purge_after == at(0.2) + timedelta(days=settings.PROCTORING_RETENTION_DAYS)


@pytestmark_db
def test_a_repeated_job_adds_no_second_finding(attempt):
    store(attempt, 1, 0, ["multiple_faces"])
    store(attempt, 1, 0, ["multiple_faces"])  # the same job id, run again after a lost success
    assert FrameResult.objects.count() == 1
    assert Finding.objects.count() == 1
    assert Incident.objects.get().frame_count == 1


@pytestmark_db
def test_risk_summary_counts_incidents_and_the_time_without_a_face(attempt, settings):
    settings.PROCTORING_CLIENT_FPS = 2.0
    for seq in range(20):  # 10 s of frames at 2 fps: 0.0 .. 9.5
        store(attempt, seq + 1, seq * 0.5, ["no_face"] if 4 <= seq < 8 else [])
    summary = incidents.risk_summary(attempt)
    assert summary["streaming_seconds"] == 10.0
    assert summary["incidents"] == 1
    assert summary["by_kind"]["no_face"] == {"count": 1, "seconds": 2.0, "open_reviews": 1, "severity": 2}
    assert summary["no_face_percent"] == 20.0


@pytestmark_db
def test_risk_summary_divides_by_the_time_the_camera_streamed_not_by_a_camera_off_gap(attempt, settings):
    settings.PROCTORING_CLIENT_FPS = 2.0
    settings.PROCTORING_INCIDENT_GAP_SECONDS = 10
    # 122 analysed frames, all without a face: 61 at 2 fps, the camera off for 10 minutes, 61 more.
    for seq in range(122):
        store(attempt, seq + 1, seq * 0.5 + (600 if seq >= 61 else 0), ["no_face"])
    summary = incidents.risk_summary(attempt)
    assert summary["streaming_seconds"] == 61.0
    assert summary["off_seconds"] == 600.0
    assert summary["no_face_percent"] == 100.0


# --- the whole path: a real worker and the reference API's detector ----------------------------


@pytestmark_db
def test_a_review_records_who_when_and_why_and_pending_clears_it(attempt, admin_user):
    store(attempt, 1, 0, ["multiple_faces"])
    incident = Incident.objects.get()
    incidents.review(incident, admin_user, "dismissed", "  a poster on the wall  ")
    incident.refresh_from_db()
    assert (incident.review_status, incident.review_comment) == ("dismissed", "a poster on the wall")
    assert incident.reviewed_by == admin_user and incident.reviewed_at is not None
    incidents.review(incident, admin_user, "pending")
    incident.refresh_from_db()
    assert incident.reviewed_by is None and incident.reviewed_at is None
    with pytest.raises(ValueError, match="review status"):
        incidents.review(incident, admin_user, "maybe")
