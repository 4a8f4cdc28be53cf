"""How the pages show durations and moments (`proctoring.templatetags.timing`)."""

from __future__ import annotations

from datetime import UTC, datetime

from proctoring.templatetags.timing import duration, moment


def test_a_duration_below_a_second_is_shown_in_milliseconds_and_above_it_in_seconds():
    assert duration(0.0175) == "17.5 ms"
    assert duration(0.98) == "980 ms"
    assert duration(26.3) == "26.3 s"
    assert duration(1) == "1.0 s"
    assert duration(None) == "–"


def test_a_moment_is_shown_to_the_second_or_the_millisecond_never_with_microseconds():
    at = datetime(2026, 12, 2, 13, 20, 8, 123456, tzinfo=UTC)
    assert moment(at) == "2026-12-02 13:20:08"
    assert moment(at, "ms") == "2026-12-02 13:20:08.123"
    assert moment(at.isoformat()) == "2026-12-02 13:20:08"
    assert moment(None) == "–" and moment("not a time") == "not a time"
