"""The worker's entry points: each loads its inputs and calls one function."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rq import get_current_job
from rq.job import Job

from proctoring import api_client, queues, results
from proctoring.exceptions import ApiError, ApiRejected
from proctoring.frames import FrameMeta

log = logging.getLogger(__name__)


def forward_frame_job(meta: FrameMeta, image: bytes) -> None:
    """Sends one frame to the proctoring API, keeps its answer and frees the client's slot."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("forward_frame_job must run inside an RQ job")
    answer = api_client.analyze_frame(meta, image, idempotency_key=job.id)
    results.store_result(meta, job.id, answer)
    queues.release(meta.client_id, job.id)


def on_forward_failure(
    job: Job,
    connection: Any,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """Runs after every failed attempt, before RQ decides on a retry.

    A rejection (4xx) cannot be fixed by retrying, so it ends the job now. When no attempt is
    left, the frame is finally failed: it stays in the failed registry, and its slot is freed.
    """
    if isinstance(exc, ApiError):
        job.meta["api_status"] = exc.status
        job.meta["api_body"] = exc.body
    job.meta["last_error"] = f"{exc_type.__name__ if exc_type else 'Error'}: {exc}"
    if isinstance(exc, ApiRejected):
        job.retries_left = 0
    job.save_meta()
    if job.should_retry:
        log.warning("job %s: attempt failed, will retry: %s", job.id, exc)
        return
    log.error("job %s: failed for good: %s", job.id, exc)
    client_id = job.meta.get("client_id")
    if client_id:
        queues.release(str(client_id), job.id)
