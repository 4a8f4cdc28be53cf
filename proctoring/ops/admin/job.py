"""One job's admin page and its frame."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result

from proctoring.core.frames import CONTENT_TYPES, FrameMeta
from proctoring.models import FrameResult
from proctoring.ops import locate, stats
from proctoring.ops.admin.failed import error_kind, failed_at, registry, render_page, retries_label
from proctoring.queue import counters, envelopes, policy
from proctoring.results import audit, authorization
from proctoring.store import shards

_JOB_ID = re.compile(r"^[\w-]{1,128}$")


def job_context(job_id: str) -> dict[str, Any]:
    """Everything the detail page shows of a job. Raises Http404 for an unknown job."""
    queue = policy.get_queue()
    if not _JOB_ID.match(job_id):
        raise Http404("no such job")
    try:
        job = counters.FrameJob.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        return _delivered_context(job_id)
    results = job.results()
    failure = next((result for result in results if result.exc_string), None)
    traceback = failure.exc_string if failure else _stored_exc_info(job)
    client = counters.client_of(job)
    frame = stored_frame_meta(job_id)
    score = queue.connection.zscore(registry().key, job_id)
    result_row = FrameResult.objects.filter(job_id=job_id).first()
    status = job.get_status(refresh=False).value
    if status == "started" and result_row is not None:
        status = "delivered"  # answered and stored; RQ's records of it are being removed
    return {
        "job": job,
        "job_id": job_id,
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "in_progress": status in _IN_PROGRESS,
        "is_failed": score is not None,
        "failed_at": failed_at(job, score) if score is not None else None,
        "client": client,
        "seq": frame.seq if frame else ref[1] if (ref := counters.frame_of(job)) else None,
        "attempt": stats.attempts_of([client]).get(client) if client else None,
        "frame": frame,
        "image_bytes": envelopes.image_sizes([job_id], queue.connection)[0] if frame else None,
        "image_sha256": str(job.meta.get("image_sha256") or ""),
        "retries": retries_label(job.retries_left),
        "failures": sum(1 for result in results if result.type == Result.Type.FAILED),
        "last_error": str(job.meta.get("last_error") or ""),
        "kind": error_kind(str(job.meta.get("last_error") or traceback or "")),
        "api_status": job.meta.get("api_status"),
        "api_body": str(job.meta.get("api_body") or ""),
        "traceback": traceback or "",
        "result": result_row,
        "result_json": json.dumps(result_row.result, indent=2) if result_row else "",
    }


_IN_PROGRESS = {"queued", "started", "scheduled", "deferred"}
# RQ's statuses as the other queue pages name them (the overview's "waiting to retry" is RQ's
# scheduled registry).
STATUS_LABELS = {"scheduled": "waiting to retry", "started": "running"}


def _delivered_context(job_id: str) -> dict[str, Any]:
    """A delivered frame's job is deleted at once (kept 0 s); its stored answer remains."""
    row = FrameResult.objects.filter(job_id=job_id).select_related("attempt__user", "attempt__exam").first()
    if row is None:
        raise Http404("no such job (a delivered frame's job is kept only as its result)")
    return {
        "job": None,
        "job_id": job_id,
        "status": "delivered",
        "status_label": "delivered",
        "client": str(row.attempt_id),
        "attempt": row.attempt,
        "seq": row.seq,
        "captured_at": row.captured_at,
        "received_at": row.received_at,
        "result": row,
        "result_json": json.dumps(row.result, indent=2),
    }


def _stored_exc_info(job: Job) -> str | None:
    # RQ 3 deprecates exc_info (it reads the latest result again, then the job hash's own copy).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return job.exc_info


def stored_frame_meta(job_id: str) -> FrameMeta | None:
    return envelopes.read_meta(job_id)


# --- Views ---------------------------------------------------------------------------------


def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    with shards.using(locate.shard_of_job(job_id) if _JOB_ID.match(job_id) else shards.current()):
        context = job_context(job_id)
    context["may_see_frame"] = authorization.may_see_frames_of(request.user, context.get("client"))
    # The tab of the list the job is in now: a delivered job is in none.
    queued = context["status"] == "queued"
    context["tab"] = "failed" if context.get("is_failed") else "waiting" if queued else ""
    return render_page(request, "job_detail.html", f"Job {job_id}", context)


def job_frame(request: HttpRequest, job_id: str) -> HttpResponse:
    """The stored image of a job's frame, as it came from the camera; 404 once it is gone, 403
    unless the user proctors its exam (the queue's permission shows only its metadata)."""
    try:
        if _JOB_ID.match(job_id):
            with shards.using(locate.shard_of_job(job_id)):
                stored = envelopes.read_frame(job_id)
        else:
            stored = None
    except (ValueError, KeyError, TypeError):
        stored = None
    if stored is None:
        raise Http404("the frame is no longer stored")
    meta, image = stored
    target = ("job", job_id)
    if not authorization.may_see_frames_of(request.user, meta.client_id):
        audit.record(request, audit.Action.FRAME_VIEWED, target, audit.Outcome.REFUSED, client=meta.client_id)
        raise PermissionDenied("a frame's image is for the proctors of its exam")
    audit.record(request, audit.Action.FRAME_VIEWED, target, client=meta.client_id, seq=meta.seq)
    content_type = (
        meta.content_type if meta.content_type in CONTENT_TYPES.values() else "application/octet-stream"
    )
    response = HttpResponse(image, content_type=content_type)
    # A face on camera: no shared or browser cache keeps it (the admin adds never_cache too).
    response["Cache-Control"] = "private, no-store"
    return response
