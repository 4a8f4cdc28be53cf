"""Erases one attempt, or one user and every attempt of theirs, at once: a data-subject request."""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from typing import Any

import redis
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exams.models import Attempt
from proctoring.results import erasure


class Command(BaseCommand):
    help = (
        "Erase an attempt (--attempt ID) or a user with all their attempts (--user NAME) now: "
        "frame results, findings, incidents, snapshot files, and their frames and keys in Redis. "
        "See docs/privacy.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--attempt", metavar="ID", help="the attempt's id (a UUID)")
        target.add_argument("--user", metavar="NAME", help="the user's username")
        parser.add_argument(
            "--keep-account",
            action="store_true",
            help="with --user: erase their attempts but keep the account",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be removed; remove nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._erase(options)
        except redis.RedisError as exc:
            # Raised only by the survey made before anything is deleted.
            raise CommandError(f"Redis cannot be reached ({exc}): nothing was erased") from None

    def _erase(self, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        if options["attempt"]:
            if options["keep_account"]:
                raise CommandError("--keep-account goes with --user")
            report, what = _erase_attempt(options["attempt"], dry_run)
        else:
            user = _user(options["user"])
            report = erasure.erase_user(user, dry_run=dry_run, keep_account=options["keep_account"])
            what = f"user {options['user']!r} ({len(report.attempts)} attempt(s))"
        self.stdout.write(summary(what, report))
        if report.unreached:
            raise CommandError(
                f"Redis could not be reached for attempt(s) {', '.join(report.unreached)}: their "
                "database rows and snapshot files are erased; run this again with --attempt for "
                "each once Redis answers"
            )


def _erase_attempt(value: str, dry_run: bool) -> tuple[erasure.Erasure, str]:
    """The attempt's erasure; for one no longer in the database, that of what is left of it
    (snapshot files, Redis data), if anything is."""
    try:
        attempt_id = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"no attempt with id {value!r}") from None
    attempt = Attempt.objects.filter(pk=attempt_id).first()
    if attempt is not None:
        return erasure.erase_attempt(attempt, dry_run=dry_run), f"attempt {attempt_id}"
    leftovers = erasure.erase_leftovers(str(attempt_id), dry_run=dry_run)
    if leftovers is None:
        raise CommandError(f"no attempt with id {value!r}")
    return leftovers, f"attempt {attempt_id} (no longer in the database; what was left of it)"


def _user(name: str) -> Any:
    model = get_user_model()
    try:
        return model.objects.get(**{model.USERNAME_FIELD: name})
    except model.DoesNotExist:
        raise CommandError(f"no user named {name!r}") from None


def summary(what: str, report: erasure.Erasure) -> str:
    """A few lines: the attempts, the rows by model, the snapshot files, and Redis's jobs, frames
    and keys."""
    verb = "would remove" if report.dry_run else "removed"
    rows = ", ".join(f"{label} {count}" for label, count in sorted(report.rows.items())) or "none"
    redis = report.redis
    lines = [
        f"{what}: {verb}",
        f"  attempts: {', '.join(report.attempts) or 'none'}",
        f"  database rows: {rows}",
        f"  snapshot files: {len(report.snapshot_files)}",
        f"  Redis: {redis.jobs} job(s), {redis.frames} frame(s), {redis.keys} key(s) of its own, "
        f"{redis.failed_image_bytes} byte(s) of failed frames' images",
    ]
    if redis.left_running:
        lines.append(f"  still running when the wait ran out: {', '.join(redis.left_running)}")
    return "\n".join(lines)
