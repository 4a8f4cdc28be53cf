"""The review queue: an exam's attempts ranked by review priority, each with its review state,
and the review a reviewer gives a whole attempt.

Review priority (`priority`), highest first, from what the reviewer should look at:

    priority = 100 × no_face_share        share of the streaming time with no face seen
             + 150 × several_faces_share  time in `multiple_faces` incidents / streaming time
             + 100 × blocked_share        time in `camera_blocked` incidents / streaming time
             +   5 × pending              incidents not reviewed yet (counted up to 20)
             +  50 × proctor_flags        incidents a proctor raised by hand

Shares are 0..1 (capped). A blocked camera also counts as no face seen, so it weighs more than
a face merely out of view; another person is the strongest signal from the camera, and a
proctor's flag is a human's judgement, stronger than any one share. Streaming time and the no-face
share are those of `incidents.risk_summary` (the same rule), computed here for many attempts in a
constant number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exams.models import Attempt, AttemptReview, Exam
from proctoring.models import Finding, FrameResult, Incident
from proctoring.results import incidents

WEIGHTS = {"no_face": 100.0, "several_faces": 150.0, "blocked": 100.0, "pending": 5.0, "flags": 50.0}
PENDING_COUNTED = 20  # pending incidents past this add nothing: a flood is one signal, not twenty
COMMENT_MAX = 2000
# Review-state filters of the queue: "" all, else one of these or an outcome.
UNREVIEWED, REVIEWED = "unreviewed", "reviewed"


class InvalidReview(ValueError):
    """An outcome that is none of `AttemptReview.Outcome`, or a comment too long (answered 400)."""


@dataclass
class Signals:
    """What the priority is made of, for one attempt."""

    streaming_seconds: float = 0.0
    no_face_seconds: float = 0.0
    kind_seconds: dict[str, float] = field(default_factory=dict)  # incident time by kind
    kind_counts: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    flags: int = 0

    def share(self, seconds: float) -> float:
        return min(1.0, seconds / self.streaming_seconds) if self.streaming_seconds else 0.0


def priority(signals: Signals) -> float:
    """The review priority (see the module's docstring), rounded to one decimal."""
    score = (
        WEIGHTS["no_face"] * signals.share(signals.no_face_seconds)
        + WEIGHTS["several_faces"] * signals.share(signals.kind_seconds.get("multiple_faces", 0.0))
        + WEIGHTS["blocked"] * signals.share(signals.kind_seconds.get("camera_blocked", 0.0))
        + WEIGHTS["pending"] * min(signals.pending, PENDING_COUNTED)
        + WEIGHTS["flags"] * signals.flags
    )
    return round(score, 1)


def signals_of(attempt_ids: Sequence[Any]) -> dict[str, Signals]:
    """Each attempt's signals, in three queries whatever the number of attempts."""
    found = {str(pk): Signals() for pk in attempt_ids}
    if not found:
        return found
    per_frame = incidents.frame_seconds()
    within = incidents.gap().total_seconds()
    for incident in Incident.objects.filter(attempt_id__in=attempt_ids).only(
        "attempt_id", "kind", "first_seen", "last_seen", "review_status"
    ):
        entry = found[str(incident.attempt_id)]
        entry.kind_counts[incident.kind] = entry.kind_counts.get(incident.kind, 0) + 1
        seconds = incident.duration_seconds + per_frame  # as `incidents.risk_summary` counts it
        entry.kind_seconds[incident.kind] = entry.kind_seconds.get(incident.kind, 0.0) + seconds
        entry.pending += incident.review_status == Incident.Review.PENDING
        entry.flags += incident.kind == incidents.PROCTOR_FLAG
    unseen = set(
        Finding.objects.filter(attempt_id__in=attempt_ids, kind__in=incidents.FACE_NOT_SEEN).values_list(
            "frame_id", flat=True
        )
    )
    frames: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    rows = FrameResult.objects.filter(attempt_id__in=attempt_ids)
    for attempt_id, pk, at in rows.order_by("attempt_id", "captured_at").values_list(
        "attempt_id", "pk", "captured_at"
    ):
        frames[str(attempt_id)].append((pk, at))
    for key, kept in frames.items():
        durations = incidents.frame_durations([at for _, at in kept], per_frame, within)
        entry = found[key]
        entry.streaming_seconds = sum(durations)
        entry.no_face_seconds = sum(d for (pk, _), d in zip(kept, durations, strict=True) if pk in unseen)
    return found


def latest_reviews(attempt_ids: Iterable[Any]) -> dict[str, AttemptReview]:
    """Each attempt's newest review (its review state), in one query."""
    newest: dict[str, AttemptReview] = {}
    reviews = AttemptReview.objects.filter(attempt_id__in=list(attempt_ids)).select_related("reviewer")
    for review in reviews.order_by("attempt_id", "-reviewed_at", "-pk"):
        newest.setdefault(str(review.attempt_id), review)
    return newest


@dataclass
class Entry:
    attempt: Attempt
    signals: Signals
    priority: float
    review: AttemptReview | None

    @property
    def no_face_percent(self) -> float:
        return round(100 * self.signals.share(self.signals.no_face_seconds), 1)


def ranked(attempts: Sequence[Attempt]) -> list[Entry]:
    """The attempts as queue entries, highest priority first (then the earliest started)."""
    ids = [attempt.pk for attempt in attempts]
    signals = signals_of(ids)
    reviews = latest_reviews(ids)
    entries = [
        Entry(
            attempt,
            signals[str(attempt.pk)],
            priority(signals[str(attempt.pk)]),
            reviews.get(str(attempt.pk)),
        )
        for attempt in attempts
    ]
    return sorted(entries, key=lambda entry: (-entry.priority, entry.attempt.started_at))


def matches(entry: Entry, state: str) -> bool:
    """Whether the entry passes the review-state filter: "" (all), unreviewed, reviewed, or an
    outcome (reviewed with it)."""
    if not state:
        return True
    if state == UNREVIEWED:
        return entry.review is None
    if state == REVIEWED:
        return entry.review is not None
    return entry.review is not None and entry.review.outcome == state


def queue(exam: Exam, state: str = "") -> list[Entry]:
    """The exam's attempts (running and ended), ranked, filtered by review state."""
    attempts = list(Attempt.objects.filter(exam=exam).select_related("user", "exam"))
    return [entry for entry in ranked(attempts) if matches(entry, state)]


def next_unreviewed(exam: Exam, after: Any = None) -> Attempt | None:
    """The next attempt to review: the first unreviewed one ranked below `after` (an attempt id),
    else the first unreviewed one from the top; None when all are reviewed."""
    entries = queue(exam)
    place = next((i for i, e in enumerate(entries) if str(e.attempt.pk) == str(after)), -1)
    for entry in entries[place + 1 :] + entries[: place + 1]:
        if entry.review is None and str(entry.attempt.pk) != str(after):
            return entry.attempt
    return None


def mark_reviewed(attempt: Attempt, reviewer: Any, outcome: str, comment: str = "") -> AttemptReview:
    """Records a reviewer's verdict on the whole attempt (the newest is its review state)."""
    if outcome not in AttemptReview.Outcome.values:
        raise InvalidReview(
            f"the outcome must be one of {', '.join(AttemptReview.Outcome.values)}, got {outcome!r}"
        )
    comment = str(comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidReview(
            f"the comment is {len(comment)} characters long, at most {COMMENT_MAX} are allowed"
        )
    return AttemptReview.objects.create(attempt=attempt, reviewer=reviewer, outcome=outcome, comment=comment)
