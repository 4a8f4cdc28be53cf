"""What follows a change of an attempt's state on the proctoring side, and how the exam page
hears of it: the attempt's open incidents close when it ends, and every change and every proctor
message is published on one Redis channel that each gateway process listens to
(`proctoring.gateway.control`), which forwards it to that attempt's camera sockets.

Publishing is best effort: with Redis down the message is lost, and the exam page, which also
asks for the attempt's state now and then over HTTP, catches up within that interval. Nothing
here decides a state: `exams.lifecycle` does, and has committed it before this runs.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, ProctorMessage, Transition
from proctoring.core import protocol
from proctoring.models import Incident
from proctoring.results import incidents
from proctoring.store import keys, shards
from proctoring.store.connections import get_redis

log = logging.getLogger(__name__)


def state_message(attempt: Attempt, now: datetime | None = None) -> str:
    """The `attempt` message (`protocol.attempt_state`) for the attempt as it is now."""
    now = now or timezone.now()
    ended = attempt.status in Attempt.ENDED
    reason = attempt.end_reason if ended else ""
    if attempt.status == Attempt.Status.PAUSED:
        reason = _last_reason(attempt, lifecycle.Action.PAUSE)
    return protocol.attempt_state(
        attempt.status,
        None if ended else attempt.seconds_left(now),
        ended=ended,
        reason=reason,
        extra_seconds=attempt.extra_seconds,
    )


def message_message(message: ProctorMessage) -> str:
    return protocol.proctor_message(message.pk, message.body, message.sent_at.isoformat())


def publish(attempt_id: str, payload: str, *, final: bool = False) -> bool:
    """Publishes `payload` (a protocol message) for the camera sockets of `attempt_id`; `final`
    asks them to close with `CloseCode.ATTEMPT_ENDED` once it is sent. False if Redis failed."""
    envelope = json.dumps({"attempt": attempt_id, "payload": payload, "final": final})
    try:
        with shards.using(control_redis_url()):
            get_redis().publish(keys.attempt_control_channel(), envelope)
    except redis.RedisError as exc:
        log.warning("could not tell the gateway about attempt %s: %s", attempt_id, exc)
        return False
    return True


def control_redis_url() -> str:
    """The Redis of the channel: the first shard's, which every process agrees on (a worker's own
    `REDIS_URL` is its shard's)."""
    return shards.urls()[0]


def publish_message(message: ProctorMessage) -> bool:
    return publish(str(message.attempt_id), message_message(message))


@dataclass(frozen=True)
class Greeting:
    """What a camera socket of an attempt is told: `messages` (protocol messages, in order);
    `ended`: the last of them is the final state, and the socket is to close."""

    messages: list[str]
    ended: bool


def greeting(attempt_id: str, *, unread: bool = True, now: datetime | None = None) -> Greeting:
    """The attempt's state message, then (with `unread`) the proctor's messages it has not
    marked read, oldest first: sent at a socket's connect, and again after the gateway's
    subscription was lost (it may have missed changes; the page shows a message id once).

    An attempt whose clock has not started (no `begin` yet) has no state to tell; none streams
    but rows given a consent time by hand (consent on the exam page is `begin`)."""
    pk = _uuid(attempt_id)
    attempt = Attempt.objects.select_related("exam").filter(pk=pk).first() if pk else None
    return greeting_of(attempt, unread=unread, now=now)


def greeting_of(attempt: Attempt | None, *, unread: bool = True, now: datetime | None = None) -> Greeting:
    """`greeting` for an attempt already read (with its exam): a socket's connect reads the row
    once, to authorize and to greet."""
    if attempt is None:
        return Greeting([], ended=True)
    ended = attempt.status in Attempt.ENDED
    messages = [] if attempt.status == Attempt.Status.STARTED else [state_message(attempt, now)]
    if unread and not ended:
        pending = attempt.messages.filter(read_at__isnull=True).order_by("sent_at", "pk")
        messages.extend(message_message(message) for message in pending)
    return Greeting(messages, ended)


def ended_among(attempt_ids: list[str]) -> list[str]:
    """Those of `attempt_ids` that have ended (or no longer exist), in one query."""
    wanted = {pk: attempt_id for attempt_id in attempt_ids if (pk := _uuid(attempt_id)) is not None}
    still_open = set(
        Attempt.objects.filter(pk__in=list(wanted), ended_at__isnull=True).values_list("pk", flat=True)
    )
    return [attempt_id for pk, attempt_id in wanted.items() if pk not in still_open]


def mark_read(attempt_id: str, message_id: int, now: datetime | None = None) -> bool:
    """Marks the proctor's message `message_id` to `attempt_id` read (once: the first time
    counts). False if that attempt has no such message."""
    pk = _uuid(attempt_id)
    found = ProctorMessage.objects.filter(pk=message_id, attempt_id=pk) if pk else None
    if found is None or not found.exists():
        return False
    found.filter(read_at__isnull=True).update(read_at=now or timezone.now())
    return True


def close_incidents(attempt: Attempt) -> int:
    """Closes the attempt's open incidents at its end, announcing each; returns how many."""
    open_ids = list(
        Incident.objects.filter(attempt=attempt, closed_at__isnull=True).values_list("pk", flat=True)
    )
    if not open_ids:
        return 0  # most attempts end with none open: no update, nothing to announce
    closed = Incident.objects.filter(pk__in=open_ids, closed_at__isnull=True).update(
        closed_at=attempt.ended_at or timezone.now()
    )
    for incident in Incident.objects.filter(pk__in=open_ids).select_related("attempt__exam"):
        incidents.announce(incident, incidents.CLOSED)
    return closed


def on_attempt_changed(sender: Any, attempt: Attempt, transition: Transition, **kwargs: Any) -> None:
    ended = attempt.status in Attempt.ENDED
    if ended:
        close_incidents(attempt)
    publish(str(attempt.pk), state_message(attempt), final=ended)


def connect() -> None:
    lifecycle.attempt_changed.connect(on_attempt_changed, dispatch_uid="proctoring-attempt-control")


def _uuid(attempt_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(attempt_id)
    except ValueError:
        return None


def _last_reason(attempt: Attempt, action: str) -> str:
    transition = attempt.transitions.filter(action=action).order_by("-at", "-pk").first()
    return transition.reason if transition else ""
