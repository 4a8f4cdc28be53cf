"""Retention: `proctoring_purge` deletes exactly what is past PROCTORING_RETENTION_DAYS."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from proctoring.models import Finding, FrameResult, Incident
from proctoring.results import retention, snapshots

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def frame(
    attempt, seq: int, age: timedelta, snapshot: bytes | None = None, flagged: bool = False
) -> FrameResult:
    received = timezone.now() - age
    row = FrameResult.objects.create(
        attempt=attempt,
        seq=seq,
        captured_at=received,
        received_at=received,
        job_id=f"job-{seq}",
        result={"flags": ["no_face"] if flagged else []},
        purge_after=received + timedelta(days=settings.PROCTORING_RETENTION_DAYS),
    )
    if snapshot is not None:
        row.snapshot_key = snapshots.save(str(attempt.pk), row.job_id, "image/jpeg", snapshot)
        row.save(update_fields=["snapshot_key"])
    if flagged:
        incident = Incident.objects.create(
            attempt=attempt,
            kind="no_face",
            first_seen=received,
            last_seen=received,
            frame_count=1,
            snapshot=row,
        )
        Finding.objects.create(
            attempt=attempt, frame=row, incident=incident, kind="no_face", severity=2,
            occurred_at=received, received_at=received,
        )  # fmt: skip
    return row


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("proctoring_purge", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_exactly_what_is_expired(attempt, settings):
    settings.PROCTORING_RETENTION_DAYS = 30
    old = frame(attempt, 1, 31 * DAY, snapshot=b"old", flagged=True)
    kept = frame(attempt, 2, 29 * DAY, snapshot=b"kept", flagged=True)
    recent = frame(attempt, 3, DAY)
    legacy = FrameResult.objects.create(  # stored before purge_after existed
        attempt=attempt, seq=4, captured_at=timezone.now() - 40 * DAY, received_at=timezone.now() - 40 * DAY,
        job_id="job-4", result={},
    )  # fmt: skip
    old_key = old.snapshot_key

    assert "would delete 2 frame result(s), 1 snapshot(s), 1 incident(s)" in purge("--dry-run")
    assert FrameResult.objects.count() == 4 and snapshots.read(old_key) is not None, "dry run deletes nothing"

    assert "deleted 2 frame result(s), 1 snapshot(s), 1 incident(s)" in purge()
    assert set(FrameResult.objects.values_list("pk", flat=True)) == {kept.pk, recent.pk}
    assert not FrameResult.objects.filter(pk=legacy.pk).exists()
    assert snapshots.read(old_key) is None
    assert snapshots.read(kept.snapshot_key) == (b"kept", "image/jpeg")
    assert list(Incident.objects.values_list("snapshot_id", flat=True)) == [kept.pk]
    assert list(Finding.objects.values_list("frame_id", flat=True)) == [kept.pk]
    assert "deleted 0 frame result(s), 0 snapshot(s), 0 incident(s)" in purge(), "nothing left to purge"


def test_an_orphaned_snapshot_file_is_deleted_once_past_retention(attempt, settings):
    settings.PROCTORING_RETENTION_DAYS = 30
    stale = Path(settings.MEDIA_ROOT) / "orphan" / "left-by-a-rollback.jpg"
    fresh = Path(settings.MEDIA_ROOT) / "orphan" / "just-written.jpg"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = (timezone.now() - 31 * DAY).timestamp()
    os.utime(stale, (old, old))
    named = frame(attempt, 1, 31 * DAY, snapshot=b"named")
    os.utime(Path(settings.MEDIA_ROOT) / named.snapshot_key, (old, old))
    report = retention.purge()
    assert (report.results, report.snapshots, report.orphans) == (1, 1, 1)
    assert not stale.exists() and fresh.exists()
