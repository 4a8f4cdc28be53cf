"""The `exams` queue's jobs (run by `manage.py backgroundworker`): thin entry points to
`exams.clock`, named by path when scheduled."""

from __future__ import annotations

from exams import clock


def enforce_deadline(attempt_id: str) -> str:
    """At an attempt's deadline: times it out if due, else schedules itself for the new one;
    then sweeps for any other overdue attempt."""
    status = clock.check(attempt_id)
    clock.sweep()
    return status


def sweep() -> int:
    return clock.sweep()
