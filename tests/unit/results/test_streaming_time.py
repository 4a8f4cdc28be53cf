"""The risk summary's streaming time as a plain function: each analysed frame stands for the time
to the next one, unless the camera was off between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proctoring.results.incidents import frame_durations

T0 = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def times(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


def test_a_gap_longer_than_the_limit_counts_one_frame_not_the_time_the_camera_was_off():
    assert frame_durations(times(0, 0.5, 1.0, 700, 700.5), 0.5, 10) == [0.5, 0.5, 0.5, 0.5, 0.5]


def test_a_throttled_camera_within_the_limit_streams_the_whole_time():
    assert frame_durations(times(0, 5, 10), 0.5, 10) == [5.0, 5.0, 0.5]


def test_no_frame_no_time():
    assert frame_durations([], 0.5, 10) == []
