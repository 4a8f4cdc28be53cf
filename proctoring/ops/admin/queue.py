"""The admin's queue overview and per-client pages, the JSON they poll, and pause/resume.

Views only: every figure comes from `proctoring.ops.stats`, which reads counts, never jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rq.suspension import resume as rq_resume
from rq.suspension import suspend as rq_suspend

from proctoring.core.exceptions import AdmissionError
from proctoring.ops import charts, monitoring, selftest, stats
from proctoring.queue import breaker, lateness, policy, recent_events
from proctoring.results import audit
from proctoring.store import shards

CLIENTS_PER_PAGE = 100
# The per-client, waiting and failed pages reload their content this often while shown and left
# alone (static/proctoring/page_refresh.js); the overview polls its JSON every 2 s.
PAGE_REFRESH_MS = 5000
QUEUE = ("queue", "proctoring")  # what pause, resume and the test frame act on, in the audit log
SORTABLE = (
    "last_frame_at",
    "backlog",
    "queued",
    "running",
    "retrying",
    "failed",
    "completed_today",
    "user",
    "oldest_waiting_s",
    "wait_p95",
    "age_p95",
    "stale",
    "coalesced",
    "clock_corrected",
)


def overview(request: HttpRequest) -> HttpResponse:
    throughput = stats.throughput()
    context = {
        **_admin_context(request, "Overview"),
        "tab": "overview",
        "queue": stats.queue_figures(),
        "workers": stats.workers(),
        "throughput": throughput,
        "chart": charts.throughput_chart(throughput),
        "chart_minutes": stats.MINUTES,
        "recent_events": [event_row(item) for item in recent_events.read()],
        "refresh_ms": 2000,
    }
    return render(request, "admin/proctoring/overview.html", context)


def event_row(item: dict[str, Any]) -> dict[str, Any]:
    """A kept job event as the overview's events list shows it (as queue_admin.js does a live one)."""
    details = item.get("error") or ""
    if item.get("event") == "completed" and item.get("flags"):
        details = "flags: " + ", ".join(str(flag) for flag in item["flags"])
    if item.get("event") == "stale":
        details = f"{item.get('age_s')} s old"
    at = item.get("at")
    time_label = datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")[:12] if at else "–"
    return {**item, "time": time_label, "details": details}


def stats_json(request: HttpRequest) -> JsonResponse:
    """The overview's figures (and `?clients=N` client rows) for polling."""
    return monitoring.snapshot_response(request, default_clients=0, chart=True)


def clients(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "backlog")
    if sort not in SORTABLE:
        sort = "backlog"
    descending = request.GET.get("dir", "desc") != "asc"
    rows = stats.clients()
    threshold = backlog_threshold()
    for row in rows:
        row["backlogged"] = row["backlog"] >= threshold or row["failed"] > 0
        if row["last_frame_at"]:
            row["last_frame_label"] = datetime.fromtimestamp(row["last_frame_at"], UTC).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            )
    rows.sort(key=lambda row: _sort_key(row, sort), reverse=descending)
    page = Paginator(rows, CLIENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **_admin_context(request, "Per client"),
        "tab": "clients",
        "crumb": "Per client",
        "page": page,
        "sort": sort,
        "descending": descending,
        "columns": _columns(sort, descending),
        "threshold": threshold,
        "total": len(rows),
        "page_refresh_ms": PAGE_REFRESH_MS,
    }
    return render(request, "admin/proctoring/clients.html", context)


def backlog_threshold() -> int:
    """A client stands out once half its pending allowance is waiting (at least 2 frames)."""
    return max(2, settings.PROCTORING_MAX_PENDING_PER_CLIENT // 2)


def _sort_key(row: dict[str, Any], sort: str) -> Any:
    value = row.get(sort)
    if sort == "user":
        return (value or "").lower()
    return value if value is not None else -1


def _columns(sort: str, descending: bool) -> list[dict[str, Any]]:
    labels = {
        "user": "User",
        "backlog": "Backlog",
        "queued": "Queued",
        "running": "Running",
        "retrying": "Retrying",
        "failed": "Failed",
        "completed_today": "Completed today",
        "oldest_waiting_s": "Oldest waiting (s)",
        "wait_p95": "Wait p95 (s)",
        "age_p95": "Answer age p95 (s)",
        "stale": "Expired",
        "coalesced": "Replaced",
        "clock_corrected": "Time corrected",
        "last_frame_at": "Last frame",
    }
    columns = []
    for key, label in labels.items():
        flip = "asc" if (key == sort and descending) else "desc"
        columns.append(
            {"key": key, "label": label, "sorted": key == sort, "query": f"?sort={key}&dir={flip}"}
        )
    return columns


@require_POST
def pause(request: HttpRequest) -> HttpResponseRedirect:
    for _ in shards.each():  # every shard's workers
        rq_suspend(policy.get_queue().connection)
        lateness.note_paused(policy.get_queue().connection)  # the frames' clock stops
    audit.record(request, audit.Action.QUEUE_PAUSED, QUEUE)
    messages.warning(
        request,
        "Workers are paused: they finish what they run and take nothing new. Frames are still accepted.",
    )
    return HttpResponseRedirect(reverse("proctoring-queue-overview"))


@require_POST
def resume(request: HttpRequest) -> HttpResponseRedirect:
    for _ in shards.each():  # every shard's workers
        rq_resume(policy.get_queue().connection)
        lateness.note_running(policy.get_queue().connection)
    audit.record(request, audit.Action.QUEUE_RESUMED, QUEUE)
    messages.success(request, "Workers resumed.")
    return HttpResponseRedirect(reverse("proctoring-queue-overview"))


@require_POST
def close_circuit(request: HttpRequest) -> HttpResponseRedirect:
    """Closes the API's circuit breaker on every shard: workers take jobs again at once."""
    before = [breaker.close(policy.get_queue().connection) for _ in shards.each()]
    states = [state["state"] for state in before]
    audit.record(
        request, audit.Action.CIRCUIT_CLOSED, QUEUE, was=states, failures=[s["failures"] for s in before]
    )
    if all(state == breaker.CLOSED for state in states):
        messages.info(request, "The API's circuit was closed already.")
    else:
        messages.success(
            request,
            "The API's circuit is closed: workers take jobs again. It opens again after "
            f"{settings.PROCTORING_BREAKER_THRESHOLD} failed calls in a row.",
        )
    return HttpResponseRedirect(reverse("proctoring-queue-overview"))


@require_POST
def send_test_frame(request: HttpRequest) -> HttpResponseRedirect:
    """Queues one frame of the test client and opens its job page, which shows the outcome."""
    priority = bool(request.POST.get("priority"))
    try:
        job_id, _ = selftest.enqueue_test_frame(priority=priority)
    except AdmissionError as exc:
        audit.record(request, audit.Action.TEST_FRAME_SENT, QUEUE, audit.Outcome.ERROR, error=str(exc))
        messages.error(request, f"The test frame was not queued: {exc}")
        return HttpResponseRedirect(reverse("proctoring-queue-overview"))
    audit.record(request, audit.Action.TEST_FRAME_SENT, ("job", job_id), priority=priority)
    messages.success(request, f"Test frame queued as job {job_id}. This page follows it until it is done.")
    return HttpResponseRedirect(reverse("proctoring-queue-job", args=[job_id]))


def _admin_context(request: HttpRequest, title: str) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": f"Proctoring queue: {title}"}
