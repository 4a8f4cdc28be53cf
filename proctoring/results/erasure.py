"""Erasing an exam taker's data at once, for a data-subject request or when an attempt, its user
or its exam is deleted: the attempt's frame results, findings and incidents (by cascade), its
snapshot files, and everything Redis holds of it (`proctoring.queue.erasure`).

Every delete of an `Attempt` (the admin, the ORM, a cascade from its user or exam) erases, through
`on_attempt_delete` (connected in `proctoring/apps.py`): the files and Redis go only once the
delete has committed, so a rolled-back delete leaves the evidence whole. `erase_attempt` and
`erase_user` (`manage.py proctoring_erase`) delete and say what was, or would be, removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
from django.db import transaction

from exams.models import Attempt
from proctoring.models import Finding, FrameResult, Incident
from proctoring.queue import erasure as redis_erasure
from proctoring.results import snapshots

log = logging.getLogger(__name__)


@dataclass
class Erasure:
    """What an erasure removed (or, dry, would remove)."""

    dry_run: bool
    attempts: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # model label -> rows
    snapshot_files: list[str] = field(default_factory=list)
    redis: redis_erasure.RedisErasure = field(default_factory=redis_erasure.RedisErasure)
    unreached: list[str] = field(default_factory=list)  # attempts whose Redis data could not be erased


@dataclass
class _AfterCommit:
    """What the erasures that committed in this thread removed outside the database."""

    snapshot_files: list[str] = field(default_factory=list)
    redis: redis_erasure.RedisErasure = field(default_factory=redis_erasure.RedisErasure)
    unreached: list[str] = field(default_factory=list)


_collecting: ContextVar[_AfterCommit | None] = ContextVar("proctoring_erasure", default=None)


def survey(attempts: Sequence[Attempt]) -> Erasure:
    """What deleting `attempts` would remove; changes nothing."""
    ids = [attempt.pk for attempt in attempts]
    report = Erasure(dry_run=True, attempts=[str(pk) for pk in ids])
    report.rows[Attempt._meta.label] = Attempt.objects.filter(pk__in=ids).count()
    for model in (FrameResult, Finding, Incident):
        report.rows[model._meta.label] = model.objects.filter(attempt__in=ids).count()
    for attempt_id in report.attempts:
        report.snapshot_files += _snapshot_files(attempt_id)
        report.redis.add(redis_erasure.survey(attempt_id))
    return report


def erase_attempt(attempt: Attempt, dry_run: bool = False) -> Erasure:
    """Deletes `attempt` and all its data (see the module's docstring); with `dry_run`, says what
    would go and changes nothing."""
    report = survey([attempt])
    if dry_run:
        return report
    return _deleting(report, attempt.delete)


def erase_user(user: Any, dry_run: bool = False, keep_account: bool = False) -> Erasure:
    """Deletes `user`'s attempts and all their data, and the account itself unless
    `keep_account`; with `dry_run`, says what would go and changes nothing."""
    report = survey(list(user.attempts.all()))
    if not keep_account:
        report.rows[user._meta.label] = 1
    if dry_run:
        return report
    return _deleting(report, user.attempts.all().delete if keep_account else user.delete)


def _deleting(report: Erasure, delete: Any) -> Erasure:
    """Runs `delete` (a model's or queryset's) in a transaction, and fills `report` with what it
    and the erasures it set off after its commit removed."""
    with _collected() as after, transaction.atomic():
        _, rows = delete()
    report.dry_run = False
    report.rows = {label: count for label, count in rows.items() if count}
    report.snapshot_files = after.snapshot_files
    report.redis = after.redis
    report.unreached = after.unreached
    return report


def on_attempt_delete(
    sender: type[Attempt], instance: Attempt, using: str = "default", **kwargs: Any
) -> None:
    """`pre_delete` of an Attempt: once the delete commits, its snapshot files and what Redis
    holds of it go too. The files are listed now, while the rows that name them exist."""
    attempt_id = str(instance.pk)
    named = FrameResult.objects.using(using).filter(attempt_id=instance.pk).exclude(snapshot_key="")
    keys = list(named.values_list("snapshot_key", flat=True))
    transaction.on_commit(partial(_erase_outside_database, attempt_id, keys), using=using)


def erase_leftovers(attempt_id: str, dry_run: bool = False) -> Erasure | None:
    """What is left of an attempt no longer in the database (its erasure could not reach Redis,
    or a restored file): its snapshot files and Redis data, erased (or, dry, said); None when
    nothing is left."""
    report = Erasure(dry_run=True, attempts=[attempt_id], snapshot_files=_snapshot_files(attempt_id))
    report.redis = redis_erasure.survey(attempt_id)
    held = report.redis
    if not report.snapshot_files and not (held.jobs or held.frames or held.keys or held.failed_image_bytes):
        return None
    if dry_run:
        return report
    with _collected() as after:
        _erase_outside_database(attempt_id, [])
    report.dry_run = False
    report.snapshot_files, report.redis, report.unreached = after.snapshot_files, after.redis, after.unreached
    return report


def _erase_outside_database(attempt_id: str, named: list[str]) -> None:
    """The files first, then Redis: an unreachable Redis is logged and said to the caller, and the
    erasures of the other attempts deleted with this one still run."""
    files = sorted(set(named) | set(snapshots.of_attempt(attempt_id)))
    for key in files:
        snapshots.delete(key)
    snapshots.delete_attempt_folder(attempt_id)
    after = _collecting.get()
    if after is not None:
        after.snapshot_files += files
    try:
        erased = redis_erasure.erase(attempt_id)
    except redis.RedisError as exc:
        log.error(
            "attempt %s: %d snapshot file(s) erased, but not its Redis data (%s): run "
            "`manage.py proctoring_erase --attempt %s` once Redis answers",
            attempt_id,
            len(files),
            exc,
            attempt_id,
        )
        if after is not None:
            after.unreached.append(attempt_id)
        return
    log.info("attempt %s erased: %d snapshot file(s) and its Redis data", attempt_id, len(files))
    if after is not None:
        after.redis.add(erased)


@contextmanager
def _collected() -> Iterator[_AfterCommit]:
    """What the erasures committed inside remove outside the database (on_commit callbacks run
    in the thread that commits)."""
    after = _AfterCommit()
    token = _collecting.set(after)
    try:
        yield after
    finally:
        _collecting.reset(token)


def _snapshot_files(attempt_id: str) -> list[str]:
    named = FrameResult.objects.filter(attempt_id=attempt_id).exclude(snapshot_key="")
    return sorted(set(named.values_list("snapshot_key", flat=True)) | set(snapshots.of_attempt(attempt_id)))
