"""The proctor dashboard's data: attempts in progress for an exam, as rows a live grid shows, and
one attempt's timeline. Plain functions over the database and the per-client counts; the views
(`proctoring.live.views`) and the live socket (`proctoring.live.consumers`) only call them."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Exam, Transition
from proctoring.core import events
from proctoring.models import Finding, Incident
from proctoring.queue import counters, envelopes
from proctoring.results import incidents
from proctoring.store import keys, shards
from proctoring.store.connections import get_redis

STREAMING_WITHIN = 5.0  # seconds since the last frame: the camera is streaming
STALLED_WITHIN = 60.0  # since the last frame: stalled (reconnecting?); beyond: offline
TIMELINE_BUCKET = 10  # seconds per frame-count bar on the timeline
# Steps between the timeline's axis ticks (seconds): the first that gives at most AXIS_TICKS.
AXIS_STEPS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)
AXIS_TICKS = 8
# The event that tells the grids an attempt's state changed (paused, extended, ended, ...).
ATTEMPT_CHANGED = "attempt"


def in_progress(exam: Exam, attempt_ids: Iterable[str] | None = None) -> list[Attempt]:
    """The exam's attempts not ended (all, or those of `attempt_ids`), oldest first."""
    attempts = Attempt.objects.filter(exam=exam, ended_at__isnull=True).select_related("user", "exam")
    if attempt_ids is not None:
        attempts = attempts.filter(pk__in=list(attempt_ids))
    return list(attempts.order_by("started_at"))


def connection_state(last_frame_at: float | None, now: float, sockets: int | None = None) -> str:
    """What the grid says of a camera, from its last frame and, when the gateways count the
    sockets (`open_sockets`), how many it has open: a camera whose sockets all closed is
    "disconnected" at once, not "streaming" for a few seconds more."""
    if sockets == 0:
        return "waiting" if last_frame_at is None else "disconnected"
    if last_frame_at is None:
        return "connected" if sockets else "waiting"  # waiting: no frame yet, no consent or camera
    age = now - last_frame_at
    if age <= STREAMING_WITHIN:
        return "streaming"
    if age <= STALLED_WITHIN:
        return "stalled"
    return "offline"


def open_sockets(attempt_ids: list[str], now: float) -> dict[str, int] | None:
    """How many camera sockets each attempt has open now, from the connection limits' sets
    (`proctoring.gateway.connection_limits`, in the main Redis); None when no limit is set, as
    the gateways then count nothing."""
    if not (settings.PROCTORING_MAX_CONNECTIONS_PER_IP or settings.PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT):
        return None
    with shards.using(settings.REDIS_URL), get_redis().pipeline(transaction=False) as pipe:
        for attempt_id in attempt_ids:
            pipe.zcount(keys.connections_of_attempt(attempt_id), f"({now}", "+inf")
        return {attempt_id: int(n) for attempt_id, n in zip(attempt_ids, pipe.execute(), strict=True)}


def rows(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """One row per attempt: who, connection state, backlog, open and unreviewed incidents, and
    whether a live thumbnail is there (with a version that changes with the picture)."""
    if not attempts:
        return []
    ids = [str(attempt.pk) for attempt in attempts]
    figures, latest_heads = _live_state(ids)
    heads = [latest_heads[client_id] for client_id in ids]
    open_since = timezone.now() - incidents.gap()
    by_attempt = {
        str(row["attempt_id"]): row
        for row in Incident.objects.filter(attempt_id__in=ids)
        .values("attempt_id")
        .annotate(
            pending=Count("pk", filter=Q(review_status=Incident.Review.PENDING)),
            open=Count("pk", filter=Q(last_seen__gte=open_since)),
            total=Count("pk"),
        )
    }
    open_kinds: dict[str, list[str]] = defaultdict(list)
    still_open = Incident.objects.filter(attempt_id__in=ids, last_seen__gte=open_since)
    for attempt_id, kind in still_open.values_list("attempt_id", "kind"):
        open_kinds[str(attempt_id)].append(kind)
    now = time.time()
    moment = timezone.now()
    sockets = open_sockets(ids, now)
    result = []
    for attempt, head in zip(attempts, heads, strict=True):
        client_id = str(attempt.pk)
        counts = figures[client_id]
        thumb = _thumb_version(head)
        incident_counts = by_attempt.get(client_id, {})
        result.append(
            {
                "attempt_id": client_id,
                "user": attempt.user.get_username(),
                "started_at": attempt.started_at.isoformat(),
                "consented": attempt.consented_at is not None,
                "status": attempt.status,
                "status_label": attempt.get_status_display(),
                # Relative to when the row is sent; the page counts down from it while in progress.
                "seconds_left": _rounded(attempt.seconds_left(moment)),
                "extra_seconds": attempt.extra_seconds,
                "state": connection_state(
                    counts["last_frame_at"], now, None if sockets is None else sockets[client_id]
                ),
                "last_frame_at": counts["last_frame_at"],
                "backlog": counts["queued"] + counts["running"] + counts["retrying"],
                "failed": counts["failed"],
                "completed_today": counts["completed_today"],
                "incidents_open": sorted(set(open_kinds.get(client_id, []))),
                "incidents_pending": incident_counts.get("pending", 0),
                "incidents_total": incident_counts.get("total", 0),
                "thumb_url": (
                    f"{reverse('proctor-thumbnail', args=[client_id])}?v={thumb}" if thumb else None
                ),
                "timeline_url": reverse("proctor-attempt", args=[client_id]),
            }
        )
    return result


def clock(seconds: float | None) -> str:
    """A time left as a clock shows it: "59:05", "1:00:00"; "–" before the clock starts."""
    if seconds is None:
        return "–"
    hours, rest = divmod(max(0, round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rounded(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds)


def on_attempt_changed(sender: Any, attempt: Attempt, transition: Transition, **kwargs: Any) -> None:
    """The grids showing the attempt re-read its row (an ended one leaves them)."""
    events.publisher.send(events.event(ATTEMPT_CHANGED, "", str(attempt.pk), status=attempt.status))


def connect() -> None:
    lifecycle.attempt_changed.connect(on_attempt_changed, dispatch_uid="proctoring-live-grid")


def _thumb_version(head: bytes | None) -> str | None:
    meta = envelopes.meta_of(head)
    if meta is None:
        return None
    return f"{meta.seq}-{int(meta.captured_at.timestamp() * 1000)}"


def _live_state(ids: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """The clients' counts and the head of each one's live thumbnail, read from each client's
    own shard."""
    figures: dict[str, dict[str, Any]] = {}
    heads: dict[str, bytes] = {}
    by_shard: dict[str, list[str]] = defaultdict(list)
    for client_id in ids:
        by_shard[shards.of_client(client_id)].append(client_id)
    for url, members in by_shard.items():
        with shards.using(url):
            figures.update(counters.read(members))
            with get_redis().pipeline(transaction=False) as pipe:
                for client_id in members:
                    envelopes.fetch_head(pipe, keys.client_latest(client_id))
                heads.update(zip(members, pipe.execute(), strict=True))
    return figures, heads


def latest_thumbnail(attempt_id: str) -> tuple[bytes, str] | None:
    """The attempt's live thumbnail (image bytes and type), None when there is none."""
    from proctoring.core.frames import unpack_frame

    with shards.client_shard(attempt_id):
        envelope = get_redis().get(keys.client_latest(attempt_id))
    if not isinstance(envelope, bytes):
        return None
    try:
        meta, image = unpack_frame(envelope)
    except (ValueError, KeyError, TypeError):
        return None
    return image, meta.content_type


def timeline(attempt: Attempt, kind: str | None = None) -> dict[str, Any]:
    """Frames (counted per `TIMELINE_BUCKET` seconds), findings and incidents on one time axis,
    scaled to 0..1 for drawing, with the risk summary."""
    frames = attempt.frame_results.values_list("captured_at", flat=True)
    findings = Finding.objects.filter(attempt=attempt)
    attempt_incidents = Incident.objects.filter(attempt=attempt).select_related(
        "snapshot", "reviewed_by", "flagged_by"
    )
    if kind:
        findings = findings.filter(kind=kind)
        attempt_incidents = attempt_incidents.filter(kind=kind)
    times = list(frames)
    start = min([attempt.started_at, *times])
    end = max([attempt.ended_at or timezone.now(), *times])
    span = max((end - start).total_seconds(), 1.0)

    def position(at: Any) -> float:
        return round(float((at - start).total_seconds()) / span, 5)

    buckets: dict[int, int] = defaultdict(int)
    for at in times:
        buckets[int((at - start).total_seconds() // TIMELINE_BUCKET)] += 1
    peak = max(buckets.values(), default=1)
    bars = [
        {"x": round(index * TIMELINE_BUCKET / span, 5), "w": round(TIMELINE_BUCKET / span, 5), "h": n / peak}
        for index, n in sorted(buckets.items())
    ]
    kinds = sorted(set(Finding.objects.filter(attempt=attempt).values_list("kind", flat=True)))
    return {
        "start": start,
        "end": end,
        "frames": len(times),
        # Sent as backfill, past their live window: in the record, but never seen live.
        "late": attempt.frame_results.filter(late=True).count(),
        "bars": bars,
        "findings": [
            {"x": position(f.occurred_at), "kind": f.kind, "severity": f.severity, "at": f.occurred_at}
            for f in findings.order_by("occurred_at")[:5000]
        ],
        "incidents": [
            {
                "incident": incident,
                "x": position(incident.first_seen),
                "w": max(position(incident.last_seen) - position(incident.first_seen), 0.002),
            }
            for incident in attempt_incidents.order_by("first_seen")
        ],
        "axis": time_axis(start, end),
        "kinds": kinds,
        "kind": kind or "",
        "summary": incidents.risk_summary(attempt),
    }


def time_axis(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The timeline's time axis: ticks at round clock times (every 1 s .. 1 day, at most
    `AXIS_TICKS`), each with its place (0..1) and its label (H:M:S, or H:M on whole minutes)."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((s for s in AXIS_STEPS if span / s <= AXIS_TICKS), AXIS_STEPS[-1])
    first = math.ceil(start.timestamp() / step) * step
    ticks = []
    for moment in range(int(first), int(end.timestamp()) + 1, step):
        at = timezone.localtime(datetime.fromtimestamp(moment, tz=UTC))
        ticks.append(
            {
                "x": round((moment - start.timestamp()) / span, 5),
                "label": at.strftime("%H:%M" if step % 60 == 0 else "%H:%M:%S"),
            }
        )
    return ticks
