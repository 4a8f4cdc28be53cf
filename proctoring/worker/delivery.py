"""The worker's entry points: each loads its inputs and calls one function."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from django.conf import settings
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from proctoring.core import events, hints
from proctoring.core.exceptions import ApiError, ApiRejected, ApiUnavailable, FrameMissing
from proctoring.core.frames import FrameMeta
from proctoring.queue import breaker, counters, freshness, lateness, metrics
from proctoring.results import writer
from proctoring.worker import api_client, job_context, outcomes

log = logging.getLogger(__name__)


def forward_frame_job() -> None:
    """Sends one frame to the proctoring API, keeps its answer and frees the client's slot.

    The job has no arguments: the frame and its metadata are read from the frame's stored
    envelope.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("forward_frame_job must run inside an RQ job")
    stored = outcomes.load_frame(job.id)
    if stored is None:
        raise FrameMissing(
            f"the image of frame job {job.id} is gone (expired, deleted, or not kept after it failed)"
        )
    meta, image = stored
    # A frame held back on purpose (a delayed enqueue) is as old as the time since it was due;
    # time the workers spent paused does not count.
    age = outcomes.frame_age(meta.received_at.timestamp(), meta.delay)
    kind = lateness.classify(age, job.meta)
    if kind == lateness.EXPIRED:
        why = lateness.why_expired(job.meta)
        outcomes.drop_expired(meta.client_id, job.id, meta.seq, age, why)
        events.publish(events.STALE, job.id, meta.client_id, meta.seq, age_s=round(age, 1))
        return
    late = kind == lateness.LATE
    answer = api_client.analyze_frame(meta, image, idempotency_key=job.id, late=late)
    flags = answer.get("flags")
    flags = flags if isinstance(flags, list) else []

    job_id, client_id, seq = job.id, meta.client_id, meta.seq

    def tell(saved: Future[bool] | None = None) -> None:
        if saved is None or (saved.exception() is None and saved.result()):
            extra = {"late": True} if late else {}
            events.publish(events.COMPLETED, job_id, client_id, seq, flags=flags, **extra)

    saved: Future[bool] | None = None
    if settings.PROCTORING_STORE_RESULTS:
        saved = writer.store_result(meta, job.id, answer, image, late=late)
        # A batching worker frees this job's slot now and records its success once the answer
        # is committed; any other waits here. Watchers hear of it once it is stored.
        if not job_context.defer_success_until(saved):
            saved.result(timeout=writer.COMMIT_TIMEOUT)
        saved.add_done_callback(tell)
    else:
        tell()

    def kept() -> bool:
        # False once the answer was dropped, its attempt erased while the frame ran: asked when
        # the success is written, after the answer's commit.
        return saved is None or saved.result() is not False

    # The dashboard's thumbnail: every 4th frame (2 s at 2 fps) and every flagged one.
    keep_latest = bool(flags) or meta.seq % 4 == 1
    outcomes.finish_delivered(
        meta.client_id,
        job.id,
        flagged=bool(flags),
        keep_latest=keep_latest,
        hint=hints.hint_for(flags),
        times=_times(job, meta, late),
        kept=kept,
        late=late,
    )


def _times(job: Job, meta: FrameMeta, late: bool = False) -> tuple[float, float, float]:
    """The frame's wait (received → taken, less a delay asked for), run (taken → answered) and
    age (received → answered), in ms, also counted in the overall histograms; a late frame's
    wait and age are not (they describe the live view, which it was not part of)."""
    now = datetime.now(UTC)
    started = job.started_at or now
    held = meta.delay * 1000
    wait = max(0.0, (started - meta.received_at).total_seconds() * 1000 - held)
    run = max(0.0, (now - started).total_seconds() * 1000)
    age = max(0.0, (now - meta.received_at).total_seconds() * 1000 - held)
    for kind, value in (("wait", wait), ("run", run), ("age", age)):
        if not late or kind == "run":
            metrics.recorder.observe(kind, value, freshness.KINDS[kind])
    return wait, run, age


def on_forward_failure(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """Runs after every failed attempt, before RQ decides on a retry.

    A rejection (4xx) or a missing frame cannot be fixed by retrying, so it ends the job now.
    When no attempt is left, the frame is finally failed: it stays in the failed registry with
    its metadata and its image's sha256 (the image itself only within the byte caps, and never
    after a refusal), and its slot is freed.
    """
    if isinstance(exc, ApiError):
        job.meta["api_status"] = exc.status
        job.meta["api_body"] = exc.body
    job.meta["last_error"] = f"{exc_type.__name__ if exc_type else 'Error'}: {exc}"
    if getattr(exc, "retryable", True) is False:
        job.retries_left = 0
    if isinstance(exc, ApiUnavailable) and breaker.record_failure(connection):
        log.error(
            "the proctoring API failed %d times in a row: circuit open, workers wait",
            settings.PROCTORING_BREAKER_THRESHOLD,
        )
    final = not job.should_retry
    if not final and exc_type is not None and issubclass(exc_type, AbandonedJobError):
        outcomes.count_recovered(connection, job.meta)  # its worker died: sent however late
    if final and (image := outcomes.image_digest(job.id)) is not None:
        # Kept even when the image is not: what the frame was, for an operator or an appeal.
        job.meta["image_sha256"], job.meta["image_bytes"] = image
    job.save_meta()
    if not final:
        log.warning("job %s: attempt failed, will retry: %s", job.id, exc)
        metrics.recorder.count("retried")
        return
    # The job's hash names its client and seq even when the frame's bytes are gone.
    ref = counters.frame_of(job)
    if ref:
        client_id, seq = ref
        kind = exc_type.__name__ if exc_type else "Error"
        # A refusal is the client's doing (the frame itself is wrong), so its image is not kept.
        outcomes.finish_failed(client_id, job.id, kind=kind, keep_image=not isinstance(exc, ApiRejected))
        events.publish(events.FAILED, job.id, client_id, seq, kind=kind, error=job.meta["last_error"])
    else:
        log.error("job %s failed for good: %s", job.id, exc)
