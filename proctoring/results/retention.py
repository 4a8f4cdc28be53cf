"""Retention: frame results, findings, incidents and snapshots are personal data, kept
`PROCTORING_RETENTION_DAYS` and then deleted (`manage.py proctoring_purge`), and so are the
webhooks' deliveries (their payloads name attempts and platform users); audit entries are kept
`PROCTORING_AUDIT_RETENTION_DAYS`, and this purge is the only thing that deletes them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from proctoring.models import AuditEntry, FrameResult, Incident, WebhookDelivery
from proctoring.results import audit, snapshots

BATCH = 1000  # rows deleted per transaction, so that workers storing results are not held up


@dataclass
class Purged:
    results: int = 0
    incidents: int = 0
    snapshots: int = 0
    orphans: int = 0  # snapshot files no row names (a rolled-back write), past retention
    audit_entries: int = 0
    webhook_deliveries: int = 0
    snapshot_keys: list[str] = field(default_factory=list)


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.PROCTORING_RETENTION_DAYS)


def purge(now: datetime | None = None, dry_run: bool = False) -> Purged:
    """Deletes every frame result past its `purge_after` (rows from before that field: past
    retention since received), its findings and snapshot, and every incident whose last
    flagged frame is past retention, and the audit entries past theirs. With `dry_run`, counts
    what would go and deletes nothing."""
    now = now or timezone.now()
    before = cutoff(now)
    expired = FrameResult.objects.filter(
        Q(purge_after__lte=now) | Q(purge_after__isnull=True, received_at__lte=before)
    )
    old_incidents = Incident.objects.filter(last_seen__lte=before)
    old_deliveries = WebhookDelivery.objects.filter(created_at__lte=before)
    report = Purged()
    if dry_run:
        report.results = expired.count()
        report.incidents = old_incidents.count()
        report.snapshot_keys = list(expired.exclude(snapshot_key="").values_list("snapshot_key", flat=True))
        report.snapshots = len(report.snapshot_keys)
        report.orphans = len(_orphans(before))
        report.audit_entries = AuditEntry.objects.filter(at__lt=audit.cutoff(now)).count()
        report.webhook_deliveries = old_deliveries.count()
        return report
    while True:
        with transaction.atomic():
            rows = list(expired.values_list("pk", "snapshot_key")[:BATCH])
            if not rows:
                break
            FrameResult.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        # Rows first, then their files: a row never names a missing file for long, and a file
        # left by a crash here is an orphan, deleted by the next purge.
        for _, key in rows:
            if key:
                snapshots.delete(key)
                report.snapshots += 1
                report.snapshot_keys.append(key)
        report.results += len(rows)
    report.incidents, _ = old_incidents.delete()
    report.webhook_deliveries, _ = old_deliveries.delete()
    for path in _orphans(before):
        path.unlink(missing_ok=True)
        report.orphans += 1
    report.audit_entries = audit.purge(now)
    return report


def _orphans(before: datetime) -> list[Path]:
    """Snapshot files older than the cutoff that no frame result names."""
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return []
    limit = before.timestamp()
    old = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.stat().st_mtime <= limit:
                old.append(path)
    if not old:
        return []
    keys = {str(path.relative_to(root)) for path in old}
    named = set(FrameResult.objects.filter(snapshot_key__in=keys).values_list("snapshot_key", flat=True))
    return [path for path in old if str(path.relative_to(root)) not in named]
