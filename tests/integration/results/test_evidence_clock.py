"""The worker stores a frame at its evidence time: a capture time far from the receive time (a frame
queued by an older gateway, dated 2999 or at a time the database cannot hold) is stored as the
receive time, never an error; incidents, the risk summary and the purge follow the time stored.

Here the tests that need the database but no process; the gateway's own correction is in
tests/integration/gateway/test_frame_bounds.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proctoring.core.frames import FrameMeta
from proctoring.models import Finding, FrameResult, Incident
from proctoring.results import incidents, retention
from proctoring.results import writer as results

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def store(
    attempt, seq: int, received: float, flags: list[str], claimed: datetime | None = None
) -> FrameResult:
    """A frame received at T0 + `received` s, captured 0.2 s before unless `claimed` says otherwise."""
    meta = FrameMeta(
        client_id=str(attempt.pk),
        attempt_id=str(attempt.pk),
        seq=seq,
        captured_at=claimed if claimed is not None else at(received - 0.2),
        received_at=at(received),
        content_type="image/jpeg",
    )
    job_id = f"{attempt.pk.hex[:8]}{seq:024d}"
    results.store_result(meta, job_id, {"flags": flags}, b"img").result(timeout=30)
    return FrameResult.objects.get(job_id=job_id)


@pytest.mark.parametrize(
    "claimed",
    [
        pytest.param("2999-01-01T00:00:00+00:00", id="year-2999"),
        pytest.param("0001-01-01T00:00:00+14:00", id="year-1-east-of-utc"),  # overflows in UTC
        pytest.param("9999-12-31T23:59:59-12:00", id="year-9999-west-of-utc"),
    ],
)
def test_an_absurd_capture_time_is_stored_as_the_receive_time_without_an_error(attempt, claimed):
    row = store(attempt, 1, 5.0, ["no_face"], claimed=datetime.fromisoformat(claimed))
    assert (row.captured_at, row.received_at) == (at(5.0), at(5.0))
    assert row.clock_corrected, "a reviewer sees that the time stored is the server's"
    incident = Incident.objects.get()
    assert (incident.first_seen, incident.last_seen) == (at(5.0), at(5.0))
    assert Finding.objects.get().occurred_at == at(5.0)


def test_a_believable_capture_time_and_the_receive_time_are_both_stored(attempt, settings):
    row = store(attempt, 1, 5.0, [])
    assert (row.captured_at, row.received_at) == (at(4.8), at(5.0))
    assert not row.clock_corrected
    assert row.purge_after == at(5.0) + timedelta(days=settings.PROCTORING_RETENTION_DAYS)


def test_a_time_the_gateway_corrected_is_marked_on_the_stored_row(attempt):
    meta = FrameMeta(
        client_id=str(attempt.pk),
        attempt_id=str(attempt.pk),
        seq=1,
        captured_at=at(5.0),
        received_at=at(5.0),
        content_type="image/jpeg",
        clock_corrected=True,
    )
    results.store_result(meta, "c" * 32, {"flags": []}, b"img").result(timeout=30)
    assert FrameResult.objects.get(job_id="c" * 32).clock_corrected


def attempt_with_a_frame_from_2999(attempt) -> None:
    """10 s of frames at 2 fps, a face missing for the last 5 s of them, then one more no-face
    frame whose client says it was taken in 2999."""
    for seq in range(20):
        store(attempt, seq + 1, seq * 0.5 + 0.2, ["no_face"] if seq >= 10 else [])
    store(attempt, 21, 10.2, ["no_face"], claimed=datetime(2999, 1, 1, tzinfo=UTC))


def test_incidents_and_the_risk_summary_use_the_receive_time_of_a_frame_from_2999(attempt, settings):
    settings.PROCTORING_CLIENT_FPS = 2.0
    settings.PROCTORING_INCIDENT_GAP_SECONDS = 10
    attempt_with_a_frame_from_2999(attempt)
    [incident] = Incident.objects.all()
    assert (incident.first_seen, incident.last_seen, incident.frame_count) == (at(5.0), at(10.2), 11)
    summary = incidents.risk_summary(attempt)
    # Watched from 0.0 to 10.2 s (+ one frame's 0.5 s); no face from 5.0 to 10.2 s (+ 0.5 s).
    assert summary["streaming_seconds"] == 10.7
    assert summary["by_kind"]["no_face"]["seconds"] == 5.7
    assert summary["no_face_percent"] == round(100 * 5.7 / 10.7, 1) == 53.3


def test_an_incident_with_a_frame_from_2999_is_purged_with_the_others(attempt, settings):
    settings.PROCTORING_RETENTION_DAYS = 30
    attempt_with_a_frame_from_2999(attempt)
    report = retention.purge(now=at(10.2) + timedelta(days=30, seconds=1))
    assert (report.results, report.incidents) == (21, 1)
    assert not Incident.objects.exists() and not FrameResult.objects.exists()
