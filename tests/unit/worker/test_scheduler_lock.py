"""Whether a scheduler lock's holder is known dead (`proctoring.worker.scheduler_lock`): only a
holder that stopped refreshing its lock and is gone (its record, or its process on this host),
never a live one; and which frames the cut makes late or expires (`lateness.classify`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from proctoring.queue import lateness
from proctoring.store.rq_internals import SchedulerLock
from proctoring.worker import outcomes
from proctoring.worker.scheduler_lock import SILENT_SECONDS, death_of, pid_alive

HERE = "exam-host"
SILENT = SILENT_SECONDS + 1


def lock(silent_for: float, hostname: str | None = HERE, pid: int | None = 4242) -> SchedulerLock:
    return SchedulerLock(holder="abc", silent_for=silent_for, hostname=hostname, pid=pid)


def dead(pid: int) -> bool:
    return False


def alive(pid: int) -> bool:
    return True


def test_a_holder_on_this_host_whose_process_is_gone_is_dead_once_silent() -> None:
    assert death_of(lock(SILENT), HERE, alive=dead)
    assert death_of(lock(0.3), HERE, alive=dead) is None, "it refreshed its lock moments ago"


def test_a_holder_whose_record_is_gone_is_dead_once_silent() -> None:
    assert death_of(lock(SILENT, hostname=None, pid=None), HERE, alive=alive)
    # Between taking the lock and writing its record, a starting scheduler has no record yet.
    assert death_of(lock(0.1, hostname=None, pid=None), HERE, alive=alive) is None


@pytest.mark.parametrize(
    "case",
    [
        {"silent_for": 60.0, "hostname": HERE, "alive": alive},  # silent, but its process runs here
        {"silent_for": 0.2, "hostname": HERE, "alive": dead},  # same host name and pid elsewhere
        {"silent_for": 60.0, "hostname": "other-host", "alive": dead},  # its pid means nothing here
    ],
    ids=["its-process-runs", "heartbeating", "another-host"],
)
def test_a_holder_that_may_be_alive_keeps_its_lock(case: dict[str, Any]) -> None:
    assert death_of(lock(case["silent_for"], hostname=case["hostname"]), HERE, alive=case["alive"]) is None


def test_pid_alive_sees_a_live_process_and_not_a_missing_one() -> None:
    assert pid_alive(os.getpid())
    beyond = int(Path("/proc/sys/kernel/pid_max").read_text())  # pids stay below it
    assert not pid_alive(beyond)
    assert pid_alive(0), "no pid to judge: assumed alive"


def test_the_cut_makes_an_old_frame_late_and_expires_only_past_the_horizon(settings: Any) -> None:
    settings.PROCTORING_MAX_FRAME_AGE = 30
    settings.PROCTORING_BACKFILL_HORIZON = 900
    assert lateness.classify(29, {}) == lateness.LIVE
    assert lateness.classify(31, {}) == lateness.LATE
    assert lateness.classify(901, {}) == lateness.EXPIRED
    assert lateness.classify(3600, {outcomes.RECOVERED: 1}) == lateness.LATE, "taken back: late, kept"
    assert lateness.classify(3600, {lateness.RETRIED: 1}) == lateness.LATE, "an operator's retry stands"
    settings.PROCTORING_BACKFILL_HORIZON = 0
    assert lateness.classify(86400, {}) == lateness.LATE
    settings.PROCTORING_MAX_FRAME_AGE = 0
    assert lateness.classify(3600, {}) == lateness.LIVE


def test_an_expired_frame_says_why(settings: Any) -> None:
    settings.PROCTORING_BACKFILL_HORIZON = 900
    assert lateness.why_expired({}) == "waited past the backfill horizon (900 s)"
    after = lateness.why_expired({"last_error": "ApiUnavailable: the API answered 503"})
    assert after.endswith("after a failed attempt: ApiUnavailable: the API answered 503")
