"""The retry schedule: one retry per configured delay, in order, then none; retries are never
scheduled before their delay is over (RQ rounds scheduled times down to the second)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from proctoring.webhooks.delivery import Answer, due_second, job_id, retry_delay

STANDARD = (5, 300, 1800, 7200, 18000, 36000, 36000)


def test_each_failed_attempt_waits_the_next_delay_then_the_retries_are_spent():
    waits = [retry_delay(attempt, STANDARD) for attempt in range(1, 10)]
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000, None, None]


def test_standard_webhooks_schedule_spans_about_28_hours_in_eight_attempts():
    assert sum(STANDARD) == 99305  # 27 h 35 min 5 s after the first attempt: past a day of failing
    assert len(STANDARD) + 1 == 8


def test_a_short_schedule_for_tests():
    assert [retry_delay(n, (1, 2)) for n in (1, 2, 3)] == [1, 2, None]


def test_no_attempt_made_has_no_delay():
    assert retry_delay(0, STANDARD) is None


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (datetime(2026, 1, 1, 0, 0, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_a_retry_is_due_at_the_whole_second_at_or_after_its_time(moment, due):
    assert due_second(moment) == due
    assert due_second(moment) - moment < timedelta(seconds=1)


def test_each_attempt_has_a_job_id_of_its_own():
    assert job_id(7, 1) != job_id(7, 2) and job_id(7, 1) == "webhook-7-1"


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (204, True), (299, True), (302, False), (500, False)]
)
def test_only_a_2xx_delivers(status, ok):
    assert Answer(status, 1).ok is ok
    assert not Answer(None, 1, error="ConnectTimeout").ok
