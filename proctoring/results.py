"""Storing the API's answers: one writer thread per process commits them in batches.

A worker runs dozens of jobs at once; if each wrote its own row, they would queue for the
database's write lock (SQLite has one) and time out after the API had already answered. Here
each job hands its row to the process's writer and waits for that row's commit: the job still
ends only once its answer is stored, but the process makes one transaction per batch.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from django.db import DatabaseError, close_old_connections, transaction

from proctoring.frames import FrameMeta
from proctoring.models import FrameResult

log = logging.getLogger(__name__)

MAX_BATCH = 200
COMMIT_TIMEOUT = 60.0  # seconds a job waits for its row's commit
STORE_ATTEMPTS = 3  # a failed commit is tried again before the job fails (and its API call is repeated)


class ResultWriter:
    def __init__(self) -> None:
        self._rows: queue.SimpleQueue[tuple[FrameResult, Future[None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def store(self, row: FrameResult) -> None:
        """Blocks until `row` is committed (or an existing row has its job id); raises on failure."""
        self._ensure_running()
        done: Future[None] = Future()
        self._rows.put((row, done))
        done.result(timeout=COMMIT_TIMEOUT)

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
            self._commit(batch)

    def _commit(self, batch: list[tuple[FrameResult, Future[None]]]) -> None:
        try:
            close_old_connections()
            with transaction.atomic():
                # A repeated job (same job id) keeps the first stored answer.
                FrameResult.objects.bulk_create([row for row, _ in batch], ignore_conflicts=True)
        except Exception as exc:  # every waiting job must hear of it
            for _, done in batch:
                done.set_exception(exc)
        else:
            for _, done in batch:
                done.set_result(None)


_writer = ResultWriter()


def store_result(meta: FrameMeta, job_id: str, answer: dict[str, Any]) -> None:
    """Keeps the API's answer for a frame; a repeated job stores no second row.

    A failed commit is tried again here, so that a busy database costs a short wait rather
    than a second API call for a frame the API has already analysed.
    """
    row = FrameResult(
        job_id=job_id,
        attempt_id=meta.attempt_id,
        seq=meta.seq,
        captured_at=meta.captured_at,
        received_at=meta.received_at,
        result=answer,
    )
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            _writer.store(row)
            return
        except DatabaseError:
            if attempt == STORE_ATTEMPTS:
                raise
            log.warning("storing the result of job %s failed (try %d); trying again", job_id, attempt)
            time.sleep(0.5 * attempt)
