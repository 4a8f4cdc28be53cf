"""The evidence clock: a frame happened when the gateway received it, give or take a little.

A client's `captured_at` is its own word. It is kept only when it lies within
`PROCTORING_CAPTURED_AT_WINDOW` of the receive time (by default from 10 s before to 2 s after:
encoding and the network make a frame arrive a little after it was taken, and a client's clock
may run a little fast); any other time (a clock that is wrong, a date in 2999 or year 1, an
offset that cannot be converted to UTC) is replaced by the receive time. Incidents, the risk
summary, the timeline and the purge all read the time kept here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings


def window() -> tuple[float, float]:
    """Seconds relative to the receive time within which a client's capture time is believed:
    (earliest, latest), earliest ≤ 0 ≤ latest."""
    earliest, latest = settings.PROCTORING_CAPTURED_AT_WINDOW
    return float(earliest), float(latest)


def evidence_time(
    claimed: datetime | None, received_at: datetime, within: tuple[float, float] | None = None
) -> tuple[datetime, bool]:
    """The time a frame is recorded at, in UTC, and whether the client's time was replaced.

    Args:
        claimed: the capture time the client sent (timezone-aware), or None if it sent none.
        received_at: when the gateway received the frame (timezone-aware): the server's clock.
        within: (earliest, latest) seconds around `received_at`; default `window()`.

    Returns:
        (`claimed` in UTC, False) when it lies within the window; (`received_at`, False) when
        nothing was claimed; (`received_at`, True) when the claim was refused.
    """
    received = received_at.astimezone(UTC)
    if claimed is None:
        return received, False
    earliest, latest = within if within is not None else window()
    # Aware datetimes compare by instant without converting either side, so a time that cannot
    # be expressed in UTC (0001-01-01T00:00:00+14:00) compares, and fails, like any other.
    if claimed.tzinfo is None or claimed.utcoffset() is None:
        return received, True
    if received + timedelta(seconds=earliest) <= claimed <= received + timedelta(seconds=latest):
        return claimed.astimezone(UTC), False
    return received, True
