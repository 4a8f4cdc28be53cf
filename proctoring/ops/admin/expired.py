"""The admin's list of expired frames: frames still waiting past the backfill horizon
(`PROCTORING_BACKFILL_HORIZON`), dropped unsent; each recorded with its client, seq, age and why
(`proctoring.queue.lateness`), kept a day and at most 10,000, newest first, by client."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from proctoring.ops import stats
from proctoring.queue import lateness
from proctoring.store import shards
from proctoring.store.connections import get_redis

SHOWN = 500


def expired_rows(client: str) -> tuple[int, list[lateness.Expired]]:
    """Every shard's expired frames (of `client`, when given): how many are kept, the newest
    `SHOWN` of them."""
    total, rows = 0, []
    for _ in shards.each():
        count, found = lateness.expired_list(get_redis(), client or None, SHOWN)
        total += count
        rows.extend(found)
    rows.sort(key=lambda row: row.at, reverse=True)
    return total, rows[:SHOWN]


def expired_list(request: HttpRequest) -> HttpResponse:
    client = request.GET.get("client", "").strip()[:200]
    total, rows = expired_rows(client)
    return render(
        request,
        "admin/proctoring/expired_list.html",
        {
            **admin.site.each_context(request),
            "rows": rows,
            "total": total,
            "shown": len(rows),
            "client": client,
            "counted": stats.queue_figures(with_freshness=False)["stale_dropped"],
            "live_window": settings.PROCTORING_MAX_FRAME_AGE,
            "horizon": settings.PROCTORING_BACKFILL_HORIZON,
            "coalesce": settings.PROCTORING_COALESCE or "off",
            "kept_hours": lateness.EXPIRED_KEEP_SECONDS // 3600,
            "kept_max": lateness.EXPIRED_KEEP_MAX,
            "title": "Proctoring queue: Expired frames",
            "tab": "expired",
            "crumb": "Expired frames",
        },
    )
