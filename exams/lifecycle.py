"""The attempt state machine: every change of an attempt's state goes through `apply`.

    started ──begin──▶ in_progress ──pause──▶ paused
                           ▲  │ ◀──resume───┘  │
                           │  ├─submit──▶ submitted
                           │  └─time_out─▶ timed_out
       (any open state) ──terminate──▶ terminated

`extend` (extra time) changes no state; it is recorded as a transition all the same. Each call
locks the attempt's row, checks the action is allowed from its state, writes the new state and
a `Transition` (who, when, why), and, once the transaction commits, sends `attempt_changed`:
the proctoring side listens to close the socket, close incidents and schedule the deadline.

The names map onto the 1EdTech LTI Proctoring Services' Assessment Control actions (pause,
resume, terminate, update = extend) and statuses (running, paused, terminated, complete).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from exams import scoring
from exams.models import Attempt, Transition

S = Attempt.Status


class Action:
    BEGIN = "begin"  # the exam taker agreed to proctoring: the clock starts
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    SUBMIT = "submit"
    TIME_OUT = "time_out"
    TERMINATE = "terminate"


OPEN = (S.STARTED, S.IN_PROGRESS, S.PAUSED)

# action -> (states it is allowed from, state it leads to; None: the state does not change)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    Action.BEGIN: ((S.STARTED,), S.IN_PROGRESS),
    Action.PAUSE: ((S.IN_PROGRESS,), S.PAUSED),
    Action.RESUME: ((S.PAUSED,), S.IN_PROGRESS),
    Action.EXTEND: ((S.STARTED, S.IN_PROGRESS, S.PAUSED), None),
    # Submitting while paused is refused: a paused exam taker sees no questions.
    Action.SUBMIT: ((S.IN_PROGRESS,), S.SUBMITTED),
    Action.TIME_OUT: ((S.IN_PROGRESS,), S.TIMED_OUT),
    Action.TERMINATE: (OPEN, S.TERMINATED),
}

MAX_EXTRA_SECONDS = 24 * 3600  # per grant: a typo of hours for minutes should not keep an exam open for days
MAX_REASON = 500

# Sent once the transition's transaction commits: sender=Attempt, attempt=, transition=.
attempt_changed = Signal()


class TransitionRefused(Exception):
    """The action is not allowed from the attempt's state (or its arguments are out of bounds)."""


@dataclass(frozen=True)
class Outcome:
    attempt: Attempt
    transition: Transition


def allowed(status: str, action: str) -> bool:
    sources, _ = TRANSITIONS[action]
    return status in sources


def apply(
    attempt: Attempt,
    action: str,
    *,
    by: Any = None,
    reason: str = "",
    extra_seconds: int = 0,
    now: datetime | None = None,
) -> Outcome:
    """Moves `attempt` by `action`, recording it; returns the fresh attempt and the transition.

    Raises:
        TransitionRefused: the action is unknown, not allowed from the attempt's current state
            (read under a row lock, so two proctors cannot both terminate), or its extra time is
            not between 1 s and `MAX_EXTRA_SECONDS`.
    """
    if action not in TRANSITIONS:
        raise TransitionRefused(f"unknown action {action!r}")
    if action == Action.EXTEND and not 0 < extra_seconds <= MAX_EXTRA_SECONDS:
        raise TransitionRefused(f"extra time must be between 1 and {MAX_EXTRA_SECONDS} seconds")
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().select_related("exam").get(pk=attempt.pk)
        now = now or timezone.now()
        sources, target = TRANSITIONS[action]
        if locked.status not in sources:
            raise TransitionRefused(
                f"cannot {action.replace('_', ' ')} an attempt that is {locked.get_status_display()}"
            )
        before = locked.status
        _change(locked, action, now, extra_seconds)
        if target is not None:
            locked.status = target
        if locked.status in Attempt.ENDED:
            locked.ended_at = now
            locked.end_reason = reason[:MAX_REASON]
        locked.save()
        record = Transition.objects.create(
            attempt=locked,
            action=action,
            from_status=before,
            to_status=locked.status,
            by=by if getattr(by, "pk", None) else None,
            at=now,
            reason=reason[:MAX_REASON],
            extra_seconds=extra_seconds if action == Action.EXTEND else 0,
        )
        transaction.on_commit(lambda: attempt_changed.send(sender=Attempt, attempt=locked, transition=record))
    return Outcome(locked, record)


def _change(attempt: Attempt, action: str, now: datetime, extra_seconds: int) -> None:
    if action == Action.BEGIN:
        attempt.consented_at = attempt.consented_at or now
        attempt.time_limit_seconds = attempt.exam.duration_minutes * 60
    elif action == Action.PAUSE:
        attempt.paused_at = now
    elif action == Action.EXTEND:
        attempt.extra_seconds += extra_seconds
    if attempt.paused_at is not None and action in (Action.RESUME, Action.TERMINATE):
        attempt.paused_seconds += max(0.0, (now - attempt.paused_at).total_seconds())
        attempt.paused_at = None
    if action == Action.SUBMIT or action == Action.TIME_OUT:
        attempt.score, attempt.max_score = scoring.score(attempt)


def enforce_deadline(attempt: Attempt, now: datetime | None = None) -> Attempt:
    """Times the attempt out if its clock has run out (it is in progress and its deadline is past):
    called by the scheduled job at the deadline, and by every page and socket that reads the
    attempt, so a late or lost job ends nothing later than the next look at it."""
    now = now or timezone.now()
    if attempt.status != S.IN_PROGRESS:
        return attempt
    deadline = attempt.deadline(now)
    if deadline is None or deadline > now:
        return attempt
    try:
        return apply(attempt, Action.TIME_OUT, reason="the time limit was reached", now=now).attempt
    except TransitionRefused:  # paused, submitted or ended in between: that state stands
        return Attempt.objects.get(pk=attempt.pk)
