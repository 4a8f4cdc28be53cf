"""Storing the API's answers and what their flags found (`proctoring.results.incidents`): one writer
thread per process commits them in batches.

A worker runs dozens of jobs at once; if each wrote its own row, they would queue for the
database's write lock (SQLite has one) and time out after the API had already answered. Here
each job hands its row to the process's writer and waits for that row's commit: the job still
ends only once its answer is stored, but the process makes one transaction per batch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, close_old_connections, transaction

from exams.models import Attempt
from proctoring.core import clock
from proctoring.core.frames import FrameMeta
from proctoring.models import FrameResult
from proctoring.results import incidents, snapshots
from proctoring.store import keys
from proctoring.store.connections import get_redis

log = logging.getLogger(__name__)

MAX_BATCH = 200
COMMIT_TIMEOUT = 60.0  # seconds a job waits for its row's commit
STORE_ATTEMPTS = 3  # a failed commit is tried again before the job fails (and its API call is repeated)


@dataclass
class Pending:
    row: FrameResult
    image: bytes | None  # kept only for a flagged frame: it may become an incident's snapshot
    content_type: str
    done: Future[bool]  # True once stored (or stored before), False if its attempt was erased


class ResultWriter:
    def __init__(self) -> None:
        self._rows: queue.SimpleQueue[Pending | Future[None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, row: FrameResult, image: bytes | None = None, content_type: str = "") -> Future[bool]:
        """Queues `row` (and the findings and incidents of its flags) for the next commit; the
        future is True once it is committed (or an existing row has its job id), False if its
        attempt no longer exists, or failed after `STORE_ATTEMPTS` tries."""
        self._ensure_running()
        done: Future[bool] = Future()
        self._rows.put(Pending(row, image if row.flags else None, content_type, done))
        return done

    def wait_written(self, timeout: float) -> None:
        """Returns once every row submitted so far is committed or failed (or after `timeout`)."""
        if self._pid != os.getpid():
            return  # nothing was ever submitted in this process
        marker: Future[None] = Future()
        self._rows.put(marker)  # done once the writer has come to it, after every row before it
        try:
            marker.result(timeout=timeout)
        except TimeoutError:
            log.warning("results still being written after %.0fs", timeout)

    def _ensure_running(self) -> None:
        # A forked process inherits the object but not the thread.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._rows = queue.SimpleQueue()
                threading.Thread(target=self._run, name="result-writer", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            batch = [self._rows.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._rows.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if isinstance(item, Pending)]
            if rows:
                self._commit(rows)
            for marker in batch:
                if isinstance(marker, Future):
                    marker.set_result(None)

    def _commit(self, batch: list[Pending]) -> None:
        """Commits the batch, trying again on a database error: a busy database costs a short
        wait rather than a second API call for frames the API has already analysed. Rows of
        attempts deleted meanwhile (erased) are dropped, not tried again: their futures say False."""
        tries = 0
        while batch:
            written: list[str] = []
            try:
                close_old_connections()
                with transaction.atomic():
                    _write(batch, written)
            except Exception as exc:
                for key in written:  # the rows that named them were rolled back
                    snapshots.delete(key)
                # A row of an attempt deleted meanwhile fails its foreign key, and only then.
                gone = _of_erased_attempts(batch) if isinstance(exc, IntegrityError) else []
                if gone:
                    _drop(gone)
                    dropped = {id(item) for item in gone}
                    batch = [item for item in batch if id(item) not in dropped]
                    continue
                tries += 1
                if isinstance(exc, DatabaseError) and tries < STORE_ATTEMPTS:
                    log.warning(
                        "storing %d result(s) failed (try %d): %s; trying again", len(batch), tries, exc
                    )
                    time.sleep(0.5 * tries)
                    continue
                if len(batch) > 1:
                    # One bad row must not fail the others.
                    for item in batch:
                        self._commit([item])
                    return
                batch[0].done.set_exception(exc)  # its job must hear of it
                return
            for item in batch:
                item.done.set_result(True)
            return


def _of_erased_attempts(batch: list[Pending]) -> list[Pending]:
    """The rows whose attempt is no longer in the database (erased while its frame ran)."""
    wanted = {_canonical(item.row.attempt_id) for item in batch}
    try:
        found = Attempt.objects.filter(pk__in=wanted).values_list("pk", flat=True)
        present = {_canonical(pk) for pk in found}
    except (DatabaseError, ValidationError):
        return []
    return [item for item in batch if _canonical(item.row.attempt_id) not in present]


def _canonical(attempt_id: Any) -> str:
    """An attempt id as one text, however it was written (a UUID with or without dashes)."""
    try:
        return str(uuid.UUID(str(attempt_id)))
    except ValueError:
        return str(attempt_id)


def _drop(gone: list[Pending]) -> None:
    """Drops answers whose attempt was erased: logged, counted in the totals, and their futures
    say False, so that the job stores nothing of its client (`proctoring.worker.delivery`)."""
    for item in gone:
        log.warning(
            "job %s: attempt %s no longer exists (erased); its answer is dropped, not stored",
            item.row.job_id,
            item.row.attempt_id,
        )
        item.done.set_result(False)
        # Its snapshot, if the failed try wrote one, is deleted: its folder goes too.
        snapshots.delete_attempt_folder(str(item.row.attempt_id))
    try:
        get_redis().hincrby(keys.totals(), keys.RESULTS_DROPPED_ERASED, len(gone))
    except redis.RedisError as exc:
        log.warning("could not count %d dropped result(s): %s", len(gone), exc)


def _write(batch: list[Pending], written: list[str]) -> None:
    """The batch's rows, then, for the flagged ones that are new, their findings and incidents
    and the snapshots of the incidents they open (their keys added to `written` as they are)."""
    flagged = {item.row.job_id: item for item in batch if item.row.flags}
    # A repeated job (same job id) keeps the first stored answer and adds no second finding.
    # (Most batches have no flagged row: no query for them.)
    already = (
        set(FrameResult.objects.filter(job_id__in=flagged).values_list("job_id", flat=True))
        if flagged
        else set()
    )
    FrameResult.objects.bulk_create([item.row for item in batch], ignore_conflicts=True)
    new = [job_id for job_id in flagged if job_id not in already]
    if not new:
        return
    opened = incidents.record(list(FrameResult.objects.filter(job_id__in=new)))
    for item in opened:
        pending = flagged[item.frame.job_id]
        if pending.image is None:
            continue
        item.frame.snapshot_key = snapshots.save(
            str(item.frame.attempt_id), item.frame.job_id, pending.content_type, pending.image
        )
        written.append(item.frame.snapshot_key)
    FrameResult.objects.bulk_update([item.frame for item in opened], ["snapshot_key"])


_writer = ResultWriter()


def store_result(
    meta: FrameMeta, job_id: str, answer: dict[str, Any], image: bytes = b"", late: bool = False
) -> Future[bool]:
    """Keeps the API's answer for a frame (its metadata, the image's hash, never the image),
    and what its flags found (`proctoring.results.incidents`); a repeated job stores no second row.
    The image is kept only as the snapshot of an incident it opens.

    Returns at once: the future is True when the row is committed, False when its attempt was
    erased meanwhile (nothing is stored). Under a batching worker the
    job's success is recorded only after that (`job_context.defer_success_until`), and the job's
    slot is free meanwhile; elsewhere, wait for it (`.result()`).

    A `late` frame (sent as backfill, past its live window) is stored marked so.

    The gateway has put the capture time right already (`proctoring.core.clock`); it is checked
    again here, so that a frame queued by an older gateway, dated in 2999 or at a time the
    database cannot hold, is stored at its receive time instead of failing its job.
    """
    captured_at, corrected = clock.evidence_time(meta.captured_at, meta.received_at)
    if corrected:
        log.warning(
            "job %s (client %s #%s): capture time %r replaced by the receive time",
            job_id,
            meta.client_id,
            meta.seq,
            meta.captured_at.isoformat(),
        )
    row = FrameResult(
        job_id=job_id,
        attempt_id=meta.attempt_id,
        seq=meta.seq,
        captured_at=captured_at,
        received_at=meta.received_at,
        clock_corrected=corrected or meta.clock_corrected,
        result=answer,
        late=late,
        sha256=hashlib.sha256(image).hexdigest() if image else "",
        purge_after=meta.received_at + timedelta(days=settings.PROCTORING_RETENTION_DAYS),
    )
    return _writer.submit(row, image or None, meta.content_type)


def wait_written(timeout: float) -> None:
    """Blocks until this process's results submitted so far are committed (or failed)."""
    _writer.wait_written(timeout)
