"""How the pages show durations and moments: below a second in milliseconds ("17.5 ms", not
"0.0175" beside "26.3"), above it in seconds; a moment to the second, or to the millisecond
where the order of frames matters, never with microseconds."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(seconds: float | int | None) -> str:
    """Seconds as "17.5 ms", "980 ms", "2.4 s" or "26.3 s"; "–" for none."""
    if seconds is None or isinstance(seconds, bool):
        return "–"
    value = float(seconds)
    if abs(value) < 1:
        ms = value * 1000
        return f"{ms:.1f} ms" if abs(ms) < 100 else f"{ms:.0f} ms"
    return f"{value:.1f} s"


@register.filter
def moment(value: datetime | str | None, precision: str = "s") -> str:
    """A datetime (or its ISO text) as "2026-12-02 13:20:08", or with `precision` "ms" as
    "2026-12-02 13:20:08.123"; "–" for none, and text that is no ISO time as it is."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        at = value
    if timezone.is_aware(at):
        at = timezone.localtime(at)  # as Django's `date` filter shows it
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{at.microsecond // 1000:03d}" if precision == "ms" else text
