"""Deletes frame results, findings, incidents and snapshots past PROCTORING_RETENTION_DAYS, and
audit entries past PROCTORING_AUDIT_RETENTION_DAYS."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from proctoring.results import retention


class Command(BaseCommand):
    help = (
        "Delete what is past its retention (PROCTORING_RETENTION_DAYS): frame results and their "
        "findings, incidents, and snapshot images; and audit entries past "
        "PROCTORING_AUDIT_RETENTION_DAYS. Run it daily (cron, a systemd timer)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be deleted; delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        report = retention.purge(dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {report.results} frame result(s), {report.snapshots} snapshot(s), "
            f"{report.incidents} incident(s), {report.webhook_deliveries} webhook delivery(ies) and "
            f"{report.orphans} orphaned snapshot file(s) "
            f"older than {settings.PROCTORING_RETENTION_DAYS} day(s), and {report.audit_entries} audit "
            f"entr{'y' if report.audit_entries == 1 else 'ies'} older than "
            f"{settings.PROCTORING_AUDIT_RETENTION_DAYS} day(s)"
        )
