"""The admin's list of frames waiting in the queue, in queue order, with search by client (its
waiting frames) and by job id (where it is in the queue)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from proctoring.ops import locate
from proctoring.ops.admin.queue import PAGE_REFRESH_MS
from proctoring.queue import envelopes, policy
from proctoring.store import keys, shards

PAGE_SIZE = 50
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Waiting:
    position: int | None  # 1-based place in the queue; None when not found there
    job_id: str
    client: str | None
    seq: int | None
    received_at: datetime | None
    age_s: float | None
    priority: bool


def waiting_page(client: str, query: str, page_number: str | None) -> dict[str, Any]:
    """A page of waiting frames: the whole queue from its head, a client's waiting frames, or
    the one job `query` names."""
    connection: Any = policy.get_queue().connection  # replies are bytes (no decoding client)
    queue_key = policy.get_queue().key
    if query:
        position: int | None = connection.lpos(queue_key, query) if _JOB_ID.match(query) else None
        ids, positions, total = ([query], [position + 1], 1) if position is not None else ([], [], 0)
        page = Paginator(range(total), PAGE_SIZE).get_page(1)
    elif client:
        mine = [item.decode() for item in connection.lrange(keys.client_waiting(client), 0, -1)]
        with connection.pipeline(transaction=False) as pipe:
            for job_id in mine:
                pipe.lpos(queue_key, job_id)
            found = pipe.execute()
        pairs = [(job_id, spot + 1) for job_id, spot in zip(mine, found, strict=True) if spot is not None]
        total = len(pairs)
        page = Paginator(range(total), PAGE_SIZE).get_page(page_number)
        chunk = pairs[max(0, page.start_index() - 1) : page.end_index()]
        ids, positions = [job_id for job_id, _ in chunk], [spot for _, spot in chunk]
    else:
        total = int(connection.llen(queue_key))
        page = Paginator(range(total), PAGE_SIZE).get_page(page_number)
        start = max(0, page.start_index() - 1)
        ids = (
            [item.decode() for item in connection.lrange(queue_key, start, page.end_index() - 1)]
            if total
            else []
        )
        positions = list(range(start + 1, start + 1 + len(ids)))
    return {
        "rows": _rows(connection, ids, positions),
        "page": page,
        "total": total,
        "client": client,
        "query": query,
    }


def _rows(connection: Any, ids: list[str], positions: list[int]) -> list[Waiting]:
    with connection.pipeline(transaction=False) as pipe:
        for job_id in ids:
            envelopes.fetch_head(pipe, keys.frame(job_id))
            pipe.hget(f"rq:job:{job_id}", "pri")
        answers = pipe.execute()
    now = datetime.now(UTC)
    rows = []
    for index, job_id in enumerate(ids):
        head, pri = answers[2 * index], answers[2 * index + 1]
        meta = envelopes.meta_of(head)
        rows.append(
            Waiting(
                position=positions[index],
                job_id=job_id,
                client=meta.client_id if meta else None,
                seq=meta.seq if meta else None,
                received_at=meta.received_at if meta else None,
                age_s=round((now - meta.received_at).total_seconds(), 1) if meta else None,
                priority=pri == b"1",
            )
        )
    return rows


def waiting_list(request: HttpRequest) -> HttpResponse:
    client = request.GET.get("client", "").strip()[:200]
    query = request.GET.get("q", "").strip()[:200]
    url = shards.of_client(client) if client else (locate.shard_of_job(query) if query else shards.current())
    with shards.using(url):
        context = waiting_page(client, query, request.GET.get("page"))
    return render(
        request,
        "admin/proctoring/waiting_list.html",
        {
            **admin.site.each_context(request),
            **context,
            "title": "Proctoring queue: Waiting frames",
            "tab": "waiting",
            "crumb": "Waiting frames",
            "page_refresh_ms": PAGE_REFRESH_MS,
        },
    )
