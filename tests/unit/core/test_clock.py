"""The evidence clock as a pure function: a client's capture time is kept only near the time the
gateway received the frame; anything else (2999, year 1 at +14:00, no zone) becomes the receive time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from proctoring.core.clock import evidence_time, window

RECEIVED = datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)
WINDOW = (-10.0, 2.0)


def seconds(offset: float) -> datetime:
    return RECEIVED + timedelta(seconds=offset)


@pytest.mark.parametrize("offset", [-10.0, -3.25, 0.0, 1.999, 2.0])
def test_a_capture_time_within_the_window_is_kept(offset):
    assert evidence_time(seconds(offset), RECEIVED, WINDOW) == (seconds(offset), False)


@pytest.mark.parametrize("offset", [-10.001, -600.0, 2.001, 3600.0])
def test_a_capture_time_outside_the_window_becomes_the_receive_time(offset):
    assert evidence_time(seconds(offset), RECEIVED, WINDOW) == (RECEIVED, True)


@pytest.mark.parametrize(
    "claimed",
    [
        pytest.param("2999-01-01T00:00:00+00:00", id="year-2999"),
        pytest.param("0001-01-01T00:00:00+14:00", id="year-1-east-of-utc"),  # has no UTC form
        pytest.param("9999-12-31T23:59:59-12:00", id="year-9999-west-of-utc"),  # neither
        pytest.param("1970-01-01T00:00:00+00:00", id="epoch"),
    ],
)
def test_absurd_capture_times_become_the_receive_time_without_an_error(claimed):
    kept, corrected = evidence_time(datetime.fromisoformat(claimed), RECEIVED, WINDOW)
    assert (kept, corrected) == (RECEIVED, True)


def test_a_capture_time_with_no_zone_is_not_believed():
    assert evidence_time(seconds(-1).replace(tzinfo=None), RECEIVED, WINDOW) == (RECEIVED, True)


def test_no_capture_time_is_the_receive_time_and_no_correction():
    assert evidence_time(None, RECEIVED, WINDOW) == (RECEIVED, False)


def test_the_time_kept_is_in_utc_whatever_offset_it_was_sent_with():
    east = timezone(timedelta(hours=14))
    kept, corrected = evidence_time(seconds(-1).astimezone(east), RECEIVED, WINDOW)
    assert (kept, corrected) == (seconds(-1), False)
    assert kept.utcoffset() == timedelta(0)


def test_the_window_comes_from_the_setting(settings):
    settings.PROCTORING_CAPTURED_AT_WINDOW = (-60.0, 0.0)
    assert window() == (-60.0, 0.0)
    assert evidence_time(seconds(-30), RECEIVED) == (seconds(-30), False)
    assert evidence_time(seconds(1), RECEIVED) == (RECEIVED, True)
