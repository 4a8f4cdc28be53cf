"""The admin's failed jobs list; its actions (retry, delete, clean) are
`proctoring.ops.admin.failed_actions`, a job's own page is `proctoring.ops.admin.job`.

Views only parse the request and render; the reading is done by the plain functions below, and
the acting by `proctoring.ops.failed_jobs`, which keeps the per-client counts right. A page of the
list fetches only its own jobs (`FrameJob.fetch_many`, one round trip); the filters read the
per-client and per-kind indexes of failed frame jobs (`proctoring.queue.counters`), so no page reads
every failed job. Only "clean older than N" walks them all, in pipelines of `SCAN_CHUNK`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

from exams.models import Attempt
from proctoring.ops import stats
from proctoring.ops.admin.queue import PAGE_REFRESH_MS
from proctoring.queue import counters, envelopes, policy
from proctoring.store import keys, shards

PAGE_SIZE = 50
SCAN_CHUNK = 1_000
SEARCH_SCAN = 5_000  # the newest failed jobs a search reads (their errors are read to match)
GONE = "(job gone)"  # the registry names a job whose hash has expired or was deleted
UNKNOWN = "(unknown)"
_SCAN_FIELDS = (b"data", b"description", b"meta", b"ended_at", b"failure_ttl", *counters.FRAME_FIELDS)
_ABANDONED = re.compile(r"^Moved to \w+, due to (\w+)")
_CLASS_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


@dataclass(frozen=True)
class Summary:
    """What the filters need of one failed job."""

    job_id: str
    client: str | None
    kind: str
    failed_at: datetime | None


@dataclass(frozen=True)
class Row(Summary):
    """One line of the list."""

    exists: bool
    attempt: Attempt | None
    last_error: str
    api_status: Any
    api_body: str
    retries: str
    image_bytes: int | None  # of the image kept; 0: its metadata alone; None: its frame is gone
    image_sha256: str


def registry() -> FailedJobRegistry:
    return FailedJobRegistry(queue=policy.get_queue())


def error_kind(error: str | None) -> str:
    """The exception class named by an error: our `last_error` ("ApiRejected: ..."), RQ's note
    on an abandoned job ("Moved to FailedJobRegistry, due to AbandonedJobError, at ...") or a
    traceback (its last unindented "module.Class: message" line)."""
    text = (error or "").strip()
    if not text:
        return UNKNOWN
    if match := _ABANDONED.match(text):
        return match.group(1)
    lines = text.splitlines()
    candidates = [lines[0]] if not text.startswith("Traceback") else reversed(lines)
    for line in candidates:
        match = _CLASS_LINE.match(line)
        if match and match.group(1) != "Traceback":
            return match.group(1).rsplit(".", 1)[-1]
    return UNKNOWN


def error_line(error: str | None) -> str:
    """The line of an error that says what happened: the first of ours, the last of a traceback."""
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def retries_label(retries_left: int | None) -> str:
    """RQ's retry info: retries left of those the policy gives. Not a count of attempts: a
    non-retryable error (ApiRejected, FrameMissing) sets it to 0 at once."""
    retry = policy.retry_policy()
    if retry is None or retries_left is None:
        return "no retries"
    return f"{retries_left} of {retry.max} left"


def failed_ids(start: int = 0, stop: int | None = None) -> list[str]:
    """Failed job ids [start:stop], newest failure first (the registry's score is the failure
    time plus the failure TTL, so the newest failure scores highest)."""
    if stop is not None and stop <= start:
        return []
    return registry().get_job_ids(start, -1 if stop is None else stop - 1, desc=True, cleanup=False)


def summarize(job_ids: Sequence[str]) -> list[Summary]:
    """Client, error kind and failure time of each job, a pipeline per `SCAN_CHUNK` jobs."""
    summaries: list[Summary] = []
    for chunk, jobs, errors, scores in _scanned(job_ids, with_scores=True):
        summaries += [_summary(*item, errors) for item in zip(chunk, jobs, scores, strict=True)]
    return summaries


def _scanned(
    job_ids: Sequence[str], with_scores: bool = False
) -> Iterator[tuple[Sequence[str], list[Job | None], dict[str, str], list[float | None]]]:
    """The jobs, a pipeline per `SCAN_CHUNK`: each chunk's ids, partial jobs (None when gone),
    last errors, and (`with_scores`) failed-registry scores."""
    connection = policy.get_queue().connection
    key = registry().key
    for start in range(0, len(job_ids), SCAN_CHUNK):
        chunk = job_ids[start : start + SCAN_CHUNK]
        with connection.pipeline(transaction=False) as pipe:
            for job_id in chunk:
                pipe.hmget(Job.key_for(job_id), _SCAN_FIELDS)
            if with_scores:
                pipe.zmscore(key, list(chunk))
            answers = pipe.execute()
        scores: list[float | None] = answers.pop() if with_scores else [None] * len(chunk)
        hashes = answers
        jobs = [_partial_job(job_id, values) for job_id, values in zip(chunk, hashes, strict=True)]
        yield chunk, jobs, _errors([job for job in jobs if job is not None]), scores


def _summary(job_id: str, job: Job | None, score: float | None, errors: dict[str, str]) -> Summary:
    kind = error_kind(errors.get(job_id)) if job else GONE
    return Summary(job_id, counters.client_of(job) if job else None, kind, failed_at(job, score))


def _partial_job(job_id: str, values: list[bytes | None]) -> Job | None:
    fields = {name: value for name, value in zip(_SCAN_FIELDS, values, strict=True) if value is not None}
    if b"data" not in fields:
        return None
    queue = policy.get_queue()
    job = counters.FrameJob(job_id, connection=queue.connection, serializer=queue.serializer)
    job.restore(fields)
    return job


def _errors(jobs: Sequence[Job]) -> dict[str, str]:
    """Each job's last error: ours from its meta, else its latest result's traceback."""
    errors = {job.id: str(job.meta["last_error"]) for job in jobs if job.meta.get("last_error")}
    missing = [job for job in jobs if job.id not in errors]
    if missing:
        connection = policy.get_queue().connection
        with connection.pipeline(transaction=False) as pipe:
            for job in missing:
                pipe.xrevrange(Result.get_key(job.id), "+", "-", count=1)
            answers = pipe.execute()
        for job, answer in zip(missing, answers, strict=True):
            if answer:
                result = Result.restore(job.id, answer[0][0].decode(), answer[0][1], connection=connection)
                errors[job.id] = result.exc_string or ""
    return errors


def failed_at(job: Job | None, score: float | None) -> datetime | None:
    """When the job failed: RQ's ended_at, else its registry score less its failure TTL."""
    if job is not None and job.ended_at is not None:
        return job.ended_at
    if score is None or score == float("inf"):
        return None
    ttl = (job.failure_ttl if job else None) or settings.PROCTORING_FAILED_TTL
    return datetime.fromtimestamp(score - ttl, UTC)


def rows(job_ids: Sequence[str]) -> list[Row]:
    """The rows of one page: one round trip for its jobs (`FrameJob.fetch_many`), one for their
    failure times, one for their images' sizes, one more only for jobs without our `last_error`,
    and one query."""
    queue = policy.get_queue()
    jobs = counters.FrameJob.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer)
    scores = queue.connection.zmscore(registry().key, list(job_ids)) if job_ids else []
    errors = _errors([job for job in jobs if job is not None])
    summaries = [_summary(*item, errors) for item in zip(job_ids, jobs, scores, strict=True)]
    owners = stats.attempts_of(summary.client for summary in summaries if summary.client)
    images = envelopes.image_sizes(list(job_ids), queue.connection)
    return [
        Row(
            **vars(summary),
            exists=job is not None,
            attempt=owners.get(summary.client or ""),
            last_error=error_line(errors.get(summary.job_id)),
            api_status=job.meta.get("api_status") if job else None,
            api_body=str(job.meta.get("api_body") or "") if job else "",
            retries=retries_label(job.retries_left) if job else "",
            image_bytes=image_bytes,
            image_sha256=str(job.meta.get("image_sha256") or "") if job else "",
        )
        for summary, job, image_bytes in zip(summaries, jobs, images, strict=True)
    ]


def list_page(
    client: str, kind: str, page_number: str | None, shard: int = 0, query: str = ""
) -> dict[str, Any]:
    """The list's context: a page of rows (filtered by client and error kind) and the kinds on
    offer. Every read is O(page) or O(kinds): unfiltered pages come straight from RQ's failed
    registry, filtered ones from the per-client and per-kind indexes of failed frame jobs
    (`proctoring.queue.counters`), whose scores follow the registry's expiry. With several shards,
    this is the shard `get_redis()` reaches now (`shard`, its number, goes into the links).
    `query` keeps the jobs (of those filters) whose id is it or whose error mentions it, among
    the newest `SEARCH_SCAN` failed jobs."""
    connection = policy.get_queue().connection
    on = str(shard) if shards.sharded() and not client else ""
    now = time.time()
    chosen: list[str] | None = None
    if query:
        if client and kind:
            mine = newest(connection, keys.client_failed(client))
            scores = connection.zmscore(keys.failed_kind(kind), mine) if mine else []
            candidates = [job_id for job_id, score in zip(mine, scores, strict=True) if score is not None]
        elif client or kind:
            candidates = newest(connection, keys.client_failed(client) if client else keys.failed_kind(kind))
        else:
            candidates = failed_ids(0, SEARCH_SCAN)
        chosen = _matching(candidates[:SEARCH_SCAN], query)
        total = len(chosen)
    elif client and kind:
        mine = newest(connection, keys.client_failed(client))
        scores = connection.zmscore(keys.failed_kind(kind), mine) if mine else []
        chosen = [job_id for job_id, score in zip(mine, scores, strict=True) if score is not None]
        total = len(chosen)
    elif client or kind:
        index = keys.client_failed(client) if client else keys.failed_kind(kind)
        total = int(connection.zcount(index, now, "+inf"))
    else:
        total = registry().get_job_count(cleanup=False)
    page = Paginator(range(total), PAGE_SIZE).get_page(page_number)
    start, end = max(0, page.start_index() - 1), page.end_index()
    if chosen is not None:
        ids = chosen[start:end]
    elif client or kind:
        ids = newest(connection, index, start, end - start)
    else:
        ids = failed_ids(start, end)
    kinds = kind_counts(connection, client)
    return {
        "rows": rows(ids),
        "page": page,
        "total": total,
        "client": client,
        "kind": kind,
        "kinds": [
            (name, count, _query(client=client, kind=name, shard=on, q=query)) for name, count in kinds
        ],
        "all_kinds_query": _query(client=client, shard=on, q=query),
        "page_query": _query(client=client, kind=kind, shard=on, q=query),
        "shard": shard,
        "query": query,
    }


def _matching(job_ids: Sequence[str], query: str) -> list[str]:
    """The ids among `job_ids` (in their order) that are `query` or whose last error contains
    it, ignoring case."""
    needle = query.strip().lower()
    found: list[str] = []
    for chunk, _, errors, _ in _scanned(job_ids):
        found += [
            job_id for job_id in chunk if job_id.lower() == needle or needle in errors.get(job_id, "").lower()
        ]
    return found


def newest(connection: Any, index: str, start: int = 0, count: int = -1) -> list[str]:
    """Ids in a failed-jobs index that have not expired, newest failure first."""
    members = connection.zrevrangebyscore(index, "+inf", time.time(), start=start, num=count)
    return [member.decode() for member in members]


def kind_counts(connection: Any, client: str = "") -> list[tuple[str, int]]:
    """Failed frame jobs per error kind (of one client, if given), most first."""
    kinds = sorted(member.decode() for member in connection.smembers(keys.FAILED_KINDS))
    now = time.time()
    if client:
        mine = newest(connection, keys.client_failed(client))
        if not mine:
            return []
        with connection.pipeline(transaction=False) as pipe:
            for name in kinds:
                pipe.zmscore(keys.failed_kind(name), mine)
            answers = pipe.execute()
        counts = [sum(score is not None for score in answer) for answer in answers]
    else:
        with connection.pipeline(transaction=False) as pipe:
            for name in kinds:
                pipe.zcount(keys.failed_kind(name), now, "+inf")
            counts = [int(count) for count in pipe.execute()]
    return sorted(
        ((name, count) for name, count in zip(kinds, counts, strict=True) if count), key=lambda x: -x[1]
    )


def _query(**params: str) -> str:
    return "?" + urlencode({name: value for name, value in params.items() if value})


# --- Views ---------------------------------------------------------------------------------


def failed_list(request: HttpRequest) -> HttpResponse:
    client, kind = request.GET.get("client", "").strip(), request.GET.get("kind", "").strip()
    query = request.GET.get("q", "").strip()[:200]
    urls = shards.urls()
    if client:
        shard = shards.index_of(client)
    else:
        asked = request.GET.get("shard", "0")
        shard = int(asked) if asked.isdigit() and int(asked) < len(urls) else 0
    with shards.using(urls[shard]):
        context = list_page(client, kind, request.GET.get("page"), shard, query)
    if shards.sharded():  # one shard's list at a time, with every shard's count to pick another
        counts = [registry().get_job_count(cleanup=False) for _ in shards.each()]
        context["shard_links"] = [
            (index, count, _query(shard=str(index))) for index, count in enumerate(counts)
        ]
    context["page_refresh_ms"] = PAGE_REFRESH_MS
    return render_page(request, "failed_list.html", "Failed jobs", context)


def render_page(request: HttpRequest, template: str, crumb: str, context: dict[str, Any]) -> HttpResponse:
    """A page under the "Failed jobs" tab: this list and a job's own page (`admin_job`)."""
    return render(
        request,
        f"admin/proctoring/{template}",
        {
            **admin.site.each_context(request),
            **context,
            "title": f"Proctoring queue: {crumb}",
            "tab": context.get("tab", "failed"),
            "crumb": crumb,
            "here": request.get_full_path(),
        },
    )
