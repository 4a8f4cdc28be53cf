"""What a proctor does to an attempt: message the exam taker, pause, resume, grant extra time,
flag, terminate. Plain functions the action views (`proctoring.live.action_views`) call after
checking the user may act on the attempt's exam; each validates its input (bounded, raising
`InvalidInput`) and changes state only through `exams.lifecycle.apply` (which raises
`TransitionRefused` when the attempt's state does not allow it). What follows a state change
(the exam page told, the grid's row re-read, incidents closed at an end) hangs on
`lifecycle.attempt_changed`, not on these functions.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, ProctorMessage
from proctoring.core import events
from proctoring.models import Incident
from proctoring.results import attempt_control, incidents

MESSAGE_MAX = 1000  # characters of a message to the exam taker
REASON_MAX = 500  # of a pause's or termination's reason (lifecycle.MAX_REASON)
COMMENT_MAX = 1000  # of a flag's comment
EXTRA_MINUTES = (1, 240)  # one grant of extra time, inclusive


class InvalidInput(ValueError):
    """The proctor's input is missing, too long or out of bounds (answered 400)."""


def send_message(attempt: Attempt, by: Any, body: str) -> ProctorMessage:
    """Stores the message and publishes it to the attempt's camera sockets (the exam page shows
    it). An ended attempt's page is gone: the message is refused."""
    body = _text(body, "message", MESSAGE_MAX, required=True)
    if attempt.status in Attempt.ENDED:
        raise lifecycle.TransitionRefused(f"cannot message an attempt that is {attempt.get_status_display()}")
    message = ProctorMessage.objects.create(attempt=attempt, sender=by, body=body)
    transaction.on_commit(lambda: attempt_control.publish_message(message))
    return message


def pause(attempt: Attempt, by: Any, reason: str = "") -> lifecycle.Outcome:
    return lifecycle.apply(attempt, lifecycle.Action.PAUSE, by=by, reason=_text(reason, "reason", REASON_MAX))


def resume(attempt: Attempt, by: Any, reason: str = "") -> lifecycle.Outcome:
    return lifecycle.apply(
        attempt, lifecycle.Action.RESUME, by=by, reason=_text(reason, "reason", REASON_MAX)
    )


def extend(attempt: Attempt, by: Any, minutes: Any, reason: str = "") -> lifecycle.Outcome:
    """Grants `minutes` (a whole number within `EXTRA_MINUTES`) of extra time."""
    low, high = EXTRA_MINUTES
    try:
        whole = int(str(minutes).strip())
    except ValueError:
        raise InvalidInput(f"extra time must be a whole number of minutes, got {minutes!r}") from None
    if not low <= whole <= high:
        raise InvalidInput(f"extra time must be between {low} and {high} minutes, got {whole}")
    return lifecycle.apply(
        attempt,
        lifecycle.Action.EXTEND,
        by=by,
        reason=_text(reason, "reason", REASON_MAX),
        extra_seconds=whole * 60,
    )


def terminate(attempt: Attempt, by: Any, reason: str) -> lifecycle.Outcome:
    return lifecycle.apply(
        attempt,
        lifecycle.Action.TERMINATE,
        by=by,
        reason=_text(reason, "reason", REASON_MAX, required=True),
    )


def flag(attempt: Attempt, by: Any, comment: str) -> Incident:
    """An incident of the proctor's own (`incidents.PROCTOR_FLAG`, high severity) at this moment,
    pending review like any other; born closed when the attempt has ended (a reviewer's flag)."""
    comment = _text(comment, "comment", COMMENT_MAX, required=True)
    now = timezone.now()
    incident = Incident.objects.create(
        attempt=attempt,
        kind=incidents.PROCTOR_FLAG,
        severity=incidents.severity_of(incidents.PROCTOR_FLAG),
        first_seen=now,
        last_seen=now,
        frame_count=0,
        flagged_by=by,
        comment=comment,
        closed_at=now if attempt.status in Attempt.ENDED else None,
    )
    attempt_id = str(attempt.pk)
    transaction.on_commit(lambda: events.publish_review(attempt_id))  # the grids re-read its row
    incidents.announce(
        incident, *((incidents.OPENED, incidents.CLOSED) if incident.closed_at else (incidents.OPENED,))
    )
    return incident


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidInput(f"a {name} is required")
    if len(text) > limit:
        raise InvalidInput(f"the {name} is {len(text)} characters long, at most {limit} are allowed")
    return text
