"""From the API's flags to incidents: each flag on a frame is a finding; findings of one kind
for one attempt that are close in time are one incident (open, extended, closed by a gap), and
each attempt gets a risk summary.

The grouping rule is a plain function (`joins`) that the tests call directly; `record` applies
it to a batch of stored frames inside the result writer's transaction.

Each incident opened, closed or reviewed is announced on `incident_changed` once its
transaction commits (the webhooks listen: `proctoring.webhooks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from exams.models import Attempt
from proctoring.core import events
from proctoring.models import Finding, FrameResult, Incident, Severity

# An incident a proctor raised by hand, with their comment (not a flag of the API's).
PROCTOR_FLAG = "proctor_flag"
# How much each flag matters to a proctor; an unknown flag from another API is MEDIUM.
SEVERITIES = {
    PROCTOR_FLAG: Severity.HIGH,
    "camera_blocked": Severity.HIGH,
    "multiple_faces": Severity.HIGH,
    "no_face": Severity.MEDIUM,
    "looking_away": Severity.LOW,
    "too_dark": Severity.LOW,
    "too_bright": Severity.LOW,
}
# Kinds during which the exam taker's face was not seen (for the risk summary).
FACE_NOT_SEEN = ("no_face", "camera_blocked")

# Sent once the change commits: sender=Incident, incident=, change= one of the three below.
incident_changed = Signal()
OPENED = "opened"
CLOSED = "closed"
REVIEWED = "reviewed"


def announce(incident: Incident, *changes: str) -> None:
    """Sends `incident_changed` for each of `changes`, in order, once the transaction commits
    (at once outside one); a rolled-back change is never announced."""

    def send() -> None:
        for change in changes:
            incident_changed.send(sender=Incident, incident=incident, change=change)

    transaction.on_commit(send)


def severity_of(kind: str) -> Severity:
    return SEVERITIES.get(kind, Severity.MEDIUM)


def gap() -> timedelta:
    return timedelta(seconds=settings.PROCTORING_INCIDENT_GAP_SECONDS)


def joins(first_seen: datetime, last_seen: datetime, at: datetime, within: timedelta) -> bool:
    """Whether a flagged frame captured `at` belongs to the incident spanning first..last_seen:
    it is no further than `within` from it on either side (frames of one attempt can be
    analysed out of order, so a late one may fall before `last_seen`)."""
    return first_seen - within <= at <= last_seen + within


def confidence(answer: dict[str, Any], kind: str) -> float | None:
    """The API's confidence in a flag, if it gives one (`"confidence": {"no_face": 0.9}`)."""
    given = answer.get("confidence")
    value = given.get(kind) if isinstance(given, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


@dataclass
class Opened:
    """An incident this batch opened: its first frame's image is to be kept as its snapshot."""

    incident: Incident
    frame: FrameResult


def record(frames: Sequence[FrameResult]) -> list[Opened]:
    """Findings and incidents for newly stored `frames` (saved rows, in a transaction): one
    finding per flag, each joined to its incident. Returns the incidents opened."""
    flagged = [frame for frame in frames if frame.flags]
    if not flagged:
        return []
    # Workers on other processes may record frames of the same attempts at the same time; the
    # lock also orders this against the attempt's end (`exams.lifecycle` locks the row), so an
    # incident is either seen by the end's closing or born closed here.
    attempts = Attempt.objects.filter(pk__in=sorted({frame.attempt_id for frame in flagged}))
    if db_connection.features.has_select_for_update:
        attempts = attempts.select_for_update()
    ended_at = dict(attempts.order_by("pk").values_list("pk", "ended_at"))
    within = gap()
    known: dict[tuple[Any, str], list[Incident]] = {}
    changed: dict[int, Incident] = {}
    opened: list[Opened] = []
    findings: list[Finding] = []
    for frame in sorted(flagged, key=lambda f: f.captured_at):
        for kind in dict.fromkeys(frame.flags):  # a flag given twice is one finding
            key = (frame.attempt_id, kind)
            if key not in known:
                known[key] = list(
                    Incident.objects.filter(
                        attempt_id=frame.attempt_id,
                        kind=kind,
                        last_seen__gte=frame.captured_at - within,
                    ).order_by("last_seen")
                )
            candidates = known[key]
            at = frame.captured_at
            incident = next(
                (i for i in reversed(candidates) if joins(i.first_seen, i.last_seen, at, within)), None
            )
            if incident is None:
                incident = Incident.objects.create(
                    attempt_id=frame.attempt_id,
                    kind=kind,
                    severity=severity_of(kind),
                    first_seen=frame.captured_at,
                    last_seen=frame.captured_at,
                    frame_count=1,
                    snapshot=frame,
                    # A frame acked before the attempt's end and analysed after it.
                    closed_at=ended_at.get(frame.attempt_id),
                )
                candidates.append(incident)
                opened.append(Opened(incident, frame))
                announce(incident, *((OPENED, CLOSED) if incident.closed_at else (OPENED,)))
            else:
                incident.first_seen = min(incident.first_seen, frame.captured_at)
                incident.last_seen = max(incident.last_seen, frame.captured_at)
                incident.frame_count += 1
                changed[incident.pk] = incident
            findings.append(
                Finding(
                    attempt_id=frame.attempt_id,
                    frame=frame,
                    incident=incident,
                    kind=kind,
                    severity=severity_of(kind),
                    confidence=confidence(frame.result, kind),
                    occurred_at=frame.captured_at,
                    received_at=frame.received_at,
                )
            )
    if changed:
        Incident.objects.bulk_update(list(changed.values()), ["first_seen", "last_seen", "frame_count"])
    Finding.objects.bulk_create(findings)
    return opened


def frame_seconds() -> float:
    """How long one frame stands for: the time to the next at the page's frame rate."""
    return 1.0 / settings.PROCTORING_CLIENT_FPS


def frame_durations(times: Sequence[datetime], per_frame: float, within: float) -> list[float]:
    """How long each analysed frame (`times`, in order) stands for while the camera streamed:
    the time to the next frame when that comes within `within` seconds; otherwise (the camera
    was off, or the socket closed, between them) and for the last frame, one frame's time."""
    durations: list[float] = []
    for index, this in enumerate(times):
        following = times[index + 1] if index + 1 < len(times) else None
        to_next = (following - this).total_seconds() if following is not None else None
        durations.append(to_next if to_next is not None and 0 <= to_next <= within else per_frame)
    return durations


def risk_summary(attempt: Attempt) -> dict[str, Any]:
    """Incident counts and durations by kind, and the share of the camera's streaming time
    during which no face was seen. An incident lasts from its first to its last flagged frame,
    plus the time one frame stands for. The streaming time is what the analysed frames stand
    for (`frame_durations`): a gap longer than the incident gap is the camera off, not counted."""
    incidents = list(attempt.incidents.all())
    frames = list(attempt.frame_results.order_by("captured_at").values_list("pk", "captured_at"))
    per_frame = frame_seconds()
    durations = frame_durations([at for _, at in frames], per_frame, gap().total_seconds())
    streaming = sum(durations)
    unseen_frames = set(
        Finding.objects.filter(attempt=attempt, kind__in=FACE_NOT_SEEN).values_list("frame_id", flat=True)
    )
    not_seen = sum(
        duration for (pk, _), duration in zip(frames, durations, strict=True) if pk in unseen_frames
    )
    span = (frames[-1][1] - frames[0][1]).total_seconds() + per_frame if frames else 0.0
    by_kind: dict[str, dict[str, Any]] = {}
    for incident in incidents:
        entry = by_kind.setdefault(
            incident.kind, {"count": 0, "seconds": 0.0, "open_reviews": 0, "severity": incident.severity}
        )
        entry["count"] += 1
        entry["seconds"] += incident.duration_seconds + per_frame
        entry["open_reviews"] += incident.review_status == Incident.Review.PENDING
    for entry in by_kind.values():
        entry["seconds"] = round(entry["seconds"], 1)
    return {
        "streaming_seconds": round(streaming, 1),
        "off_seconds": round(max(0.0, span - streaming), 1),
        "off_after_seconds": gap().total_seconds(),
        "incidents": len(incidents),
        "by_kind": dict(sorted(by_kind.items(), key=lambda item: (-item[1]["severity"], item[0]))),
        "no_face_percent": round(min(100.0, 100 * not_seen / streaming), 1) if streaming else 0.0,
    }


def review(incident: Incident, user: Any, status: str, comment: str = "") -> Incident:
    """Records a proctor's decision on an incident: who, when, what, and why.

    Raises:
        ValueError: `status` is not a review status.
    """
    if status not in Incident.Review.values:
        raise ValueError(f"review status must be one of {', '.join(Incident.Review.values)}, got {status!r}")
    incident.review_status = status
    incident.review_comment = comment.strip()
    incident.reviewed_by = user if status != Incident.Review.PENDING else None
    incident.reviewed_at = timezone.now() if status != Incident.Review.PENDING else None
    incident.save(update_fields=["review_status", "review_comment", "reviewed_by", "reviewed_at"])
    attempt_id = str(incident.attempt_id)
    transaction.on_commit(lambda: events.publish_review(attempt_id))
    announce(incident, REVIEWED)
    return incident
