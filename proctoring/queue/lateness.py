"""Freshness and completeness of a frame: live within `PROCTORING_MAX_FRAME_AGE`, then late
(delivered as backfill, marked late) until `PROCTORING_BACKFILL_HORIZON`, then expired (dropped,
recorded in a bounded list for the operator). Time the workers spent paused does not count."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from proctoring.store import keys

LIVE, LATE, EXPIRED = "live", "late", "expired"
RECOVERED = "recovered"  # in a job's meta: how many times its worker died while running it
RETRIED = "operator_retried"  # in a job's meta: how many times an operator retried it
EXPIRED_KEEP_SECONDS = 86400  # the expired list keeps a day...
EXPIRED_KEEP_MAX = 10_000  # ...and at most this many frames
PAUSE_KEPT = 7 * 86400  # a pause's start is kept a week (every key expires); a longer one counts


def classify(age: float, job_meta: dict[str, Any]) -> str:
    """LIVE, LATE or EXPIRED for a frame `age` seconds old (paused time already left out).

    A frame taken back from a dead worker, or retried by an operator, is never expired: it was
    acked, and its lateness is the worker's death or an explicit decision, not the queue's."""
    live = settings.PROCTORING_MAX_FRAME_AGE
    if not live or age <= live:
        return LIVE
    horizon = settings.PROCTORING_BACKFILL_HORIZON
    if horizon and age > max(horizon, live) and not (job_meta.get(RECOVERED) or job_meta.get(RETRIED)):
        return EXPIRED
    return LATE


def why_expired(job_meta: dict[str, Any]) -> str:
    """What the expired list says of a frame dropped past the horizon: the horizon, and whether
    its earlier attempts failed (an outage) rather than it only waiting."""
    why = f"waited past the backfill horizon ({settings.PROCTORING_BACKFILL_HORIZON:g} s)"
    if job_meta.get("last_error"):
        return f"{why}, after a failed attempt: {str(job_meta['last_error'])[:200]}"
    return why


# Pauses: the frames' clock stops while the workers are paused.


def note_paused(connection: Any, now: float | None = None) -> None:
    """The workers are paused (seen by a worker or set by the admin): the pause began now unless
    it was seen already."""
    connection.set(keys.paused_since(), repr(now if now is not None else time.time()), nx=True, ex=PAUSE_KEPT)


def note_running(connection: Any, now: float | None = None) -> None:
    """The workers run: a pause that was seen ends now, and is kept as long as the horizon (plus
    the live window) so that the frames received before it are judged without it."""
    started = connection.getdel(keys.paused_since())
    if started is None:
        return
    end = now if now is not None else time.time()
    keep = settings.PROCTORING_BACKFILL_HORIZON + settings.PROCTORING_MAX_FRAME_AGE + 60
    with connection.pipeline() as pipe:
        pipe.zadd(keys.pauses(), {f"{float(started)!r} {end!r}": end})
        pipe.zremrangebyscore(keys.pauses(), "-inf", end - keep)
        pipe.expire(keys.pauses(), int(keep) + 1)
        pipe.execute()


@dataclass(frozen=True)
class Pauses:
    """The workers' pauses as read at one moment (`read_pauses`): those that ended, (start, end),
    and the start of one going on, if any."""

    ended: tuple[tuple[float, float], ...] = ()
    ongoing: float | None = None

    def spans(self, now: float) -> list[tuple[float, float]]:
        """The pauses, the one going on ending `now`."""
        return [*self.ended, *([(self.ongoing, now)] if self.ongoing is not None else [])]


def read_pauses(connection: Any, since: float | str = "-inf") -> Pauses:
    """The pauses that end after `since` (by default all that are kept: `note_running` keeps
    those that can still matter to a frame's age), in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.zrangebyscore(keys.pauses(), since, "+inf")
        pipe.get(keys.paused_since())
        past, ongoing = pipe.execute()
    ended = tuple((float(start), float(end)) for start, end in (member.split() for member in past))
    return Pauses(ended, float(ongoing) if ongoing is not None else None)


def _overlap(spans: list[tuple[float, float]], since: float, now: float) -> float:
    return sum(max(0.0, min(end, now) - max(start, since)) for start, end in spans)


def paused_between(connection: Any, since: float, now: float) -> float:
    """Seconds of [since, now] during which the workers were paused."""
    return _overlap(read_pauses(connection, since).spans(now), since, now)


def age_of(
    connection: Any, received_at: float, delay: float, now: float | None = None, pauses: Pauses | None = None
) -> float:
    """A frame's age for the cut: seconds since it was received, less a delay it asked for and
    the time the workers were paused meanwhile (from `pauses` when read already, as a worker's
    take reads them for the frames it takes; else read now)."""
    now = now if now is not None else time.time()
    spans = (pauses if pauses is not None else read_pauses(connection, received_at)).spans(now)
    return now - received_at - delay - _overlap(spans, received_at, now)


def live_since(connection: Any, now: float, pauses: Pauses | None = None) -> float:
    """The receive time from which a waiting frame is live (for the take's order): the live
    window reaches back over the pauses within it (`pauses` when read already, else read: this
    is on every take)."""
    window = settings.PROCTORING_MAX_FRAME_AGE
    if pauses is None:
        pauses = read_pauses(connection, now - window - settings.PROCTORING_BACKFILL_HORIZON)
    spans = pauses.spans(now)
    since = now - window
    for _ in range(3):  # a pause found widens the window, which may reach another pause
        since = now - window - _overlap(spans, since, now)
    return since


# The expired list.


@dataclass(frozen=True)
class Expired:
    job_id: str
    client_id: str
    seq: int
    age_s: float
    why: str
    at: float  # when it was dropped (epoch seconds)

    @property
    def dropped_at(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


def record_expired(pipe: Any, job_id: str, client_id: str, seq: int, age: float, why: str) -> None:
    """Adds a dropped frame to the expired list, shedding what is past its day and its size."""
    now = time.time()
    entry = {"job": job_id, "client": client_id, "seq": seq, "age": round(age, 1), "why": why}
    pipe.zadd(keys.expired(), {json.dumps(entry, sort_keys=True): now})
    pipe.zremrangebyscore(keys.expired(), "-inf", now - EXPIRED_KEEP_SECONDS)
    pipe.zremrangebyrank(keys.expired(), 0, -EXPIRED_KEEP_MAX - 1)
    pipe.expire(keys.expired(), EXPIRED_KEEP_SECONDS)


def forget_client(connection: Any, client_id: str) -> int:
    """Takes a client's frames out of the expired list (at its erasure); how many there were."""
    mine = [
        member
        for member in connection.zrange(keys.expired(), 0, -1)
        if json.loads(member)["client"] == client_id
    ]
    return int(connection.zrem(keys.expired(), *mine)) if mine else 0


def expired_list(
    connection: Any, client_id: str | None = None, limit: int = 500
) -> tuple[int, list[Expired]]:
    """How many frames the expired list holds, and the newest `limit` of them (of one client)."""
    since = time.time() - EXPIRED_KEEP_SECONDS
    rows = connection.zrevrangebyscore(keys.expired(), "+inf", since, withscores=True)
    found = []
    for member, at in rows:
        entry = json.loads(member)
        if client_id and entry["client"] != client_id:
            continue
        found.append(
            Expired(entry["job"], entry["client"], int(entry["seq"]), entry["age"], entry["why"], at)
        )
    return len(found), found[:limit]
