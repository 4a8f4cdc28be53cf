"""What a running job hands to its worker's thread, and back: the writes and waits its success
carries under a batching worker, and the frame envelope read along with the job.

Job code (`proctoring.worker.outcomes`, `proctoring.worker.delivery`) asks through these
functions; outside a batching worker they answer that nothing was deferred, and the job does the
work itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from proctoring.queue import lateness

Write = Callable[[Any], None]  # adds a job's own writes to a pipeline


# What the running job asked to write once it has succeeded (its own keys), per job thread.
_context = threading.local()


def begin_job(job_id: str, envelope: bytes | None, pauses: lateness.Pauses | None = None) -> None:
    """`pauses`: the workers' pauses as the take read them (`lateness.Pauses`), if it did."""
    _context.writes = []
    _context.waits = []
    _context.envelope = (job_id, envelope)
    _context.pauses = pauses


def end_job() -> list[Write]:
    writes: list[Write] = getattr(_context, "writes", None) or []
    _context.writes = None
    _context.envelope = None
    _context.pauses = None
    return writes


def end_waits() -> list[Future[Any]]:
    """What the job's success must wait for (`defer_success_until`), cleared."""
    waits: list[Future[Any]] = getattr(_context, "waits", None) or []
    _context.waits = None
    return waits


def defer_success_until(done: Future[Any]) -> bool:
    """Asks a batching worker to record the job's success only once `done` has succeeded (if
    it fails, the success is never recorded: RQ's cleanup finds the job abandoned and runs it
    again), and to free the job's slot meanwhile. Returns False when not under a batching
    worker: the caller waits for `done` itself."""
    waits = getattr(_context, "waits", None)
    if waits is None:
        return False
    waits.append(done)
    return True


def defer_on_success(write: Write) -> bool:
    """Queues `write` to run with the job's success bookkeeping, when the job runs under a
    batching worker; returns False (nothing queued) otherwise, and the caller runs it now."""
    writes = getattr(_context, "writes", None)
    if writes is None:
        return False
    writes.append(write)
    return True


def prefetched_envelope(job_id: str) -> bytes | None:
    """Job `job_id`'s frame envelope, when the worker read it along with the job."""
    prefetched: tuple[str, bytes | None] | None = getattr(_context, "envelope", None)
    if prefetched is None or prefetched[0] != job_id:
        return None
    return prefetched[1]


def prefetched_pauses() -> lateness.Pauses | None:
    """The workers' pauses as the running job's take read them (`lateness.Pauses`), or None."""
    return getattr(_context, "pauses", None)
