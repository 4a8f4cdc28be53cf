"""`WatchdogDeathPenalty`: one watchdog thread raises each job thread's timeout in that thread,
at its own deadline, and never in a block that is already over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rq.timeouts import BaseTimeoutException, JobTimeoutException

from proctoring.worker.timeouts import WatchdogDeathPenalty

BUSY_LIMIT = 5.0  # no busy loop in these tests runs longer than this, interrupted or not


@dataclass
class Outcome:
    raised: BaseException | None = None
    elapsed: float = 0.0  # seconds from entering the penalty to the exception (or the end)
    finished: bool = False


def busy(seconds: float) -> None:
    """Runs Python bytecode (where an asynchronous exception lands) for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def run_in_thread(body: Callable[[Outcome], None], join: float = BUSY_LIMIT + 5) -> Outcome:
    """Runs `body` in a new thread (the watchdog must target it, not the main thread)."""
    outcome = Outcome()

    def target() -> None:
        try:
            body(outcome)
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever arrived
            outcome.raised = exc
        outcome.finished = True

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(join)
    assert not thread.is_alive(), "the job thread did not end"
    assert outcome.finished
    return outcome


def penalised_busy_loop(timeout: float, outcome: Outcome, work: float = BUSY_LIMIT) -> None:
    started = time.monotonic()
    try:
        with WatchdogDeathPenalty(timeout, JobTimeoutException, job_id="job"):
            busy(work)
    finally:
        outcome.elapsed = time.monotonic() - started


@pytest.mark.timeout(15)
def test_a_busy_block_gets_its_timeout_in_its_own_thread() -> None:
    outcome = run_in_thread(lambda o: penalised_busy_loop(0.3, o))

    assert isinstance(outcome.raised, JobTimeoutException), outcome.raised
    assert type(outcome.raised).__name__ == "JobTimeoutException"
    assert str(outcome.raised) == "Task exceeded maximum timeout value (0.3 seconds)"
    assert 0.29 <= outcome.elapsed < 1.5, f"raised after {outcome.elapsed:.2f}s, timeout 0.3s"


@pytest.mark.timeout(15)
def test_the_exception_class_given_is_the_one_raised() -> None:
    class Custom(BaseTimeoutException):
        pass

    def body(outcome: Outcome) -> None:
        started = time.monotonic()
        try:
            with WatchdogDeathPenalty(0.2, Custom):
                busy(BUSY_LIMIT)
        finally:
            outcome.elapsed = time.monotonic() - started

    outcome = run_in_thread(body)
    assert isinstance(outcome.raised, Custom) and not isinstance(outcome.raised, JobTimeoutException)
    assert "(0.2 seconds)" in str(outcome.raised)
    assert outcome.elapsed < 1.5


@pytest.mark.timeout(15)
def test_a_block_that_ended_in_time_is_never_interrupted_later() -> None:
    def body(outcome: Outcome) -> None:
        with WatchdogDeathPenalty(0.3, JobTimeoutException):
            busy(0.05)
        with WatchdogDeathPenalty(0.2, JobTimeoutException):
            busy(0.05)
        # A longer block running past both earlier deadlines: only its own would count.
        with WatchdogDeathPenalty(3, JobTimeoutException):
            busy(0.8)
        busy(0.3)  # and no penalty at all, still past them

    outcome = run_in_thread(body)
    assert outcome.raised is None


@pytest.mark.timeout(20)
def test_concurrent_threads_each_get_their_own_timeout() -> None:
    timeouts = [0.2, 0.35, 0.5, 0.65, 0.8, 1.0]
    in_time = 4  # threads whose block ends well before its 3 s timeout
    outcomes = {timeout: Outcome() for timeout in timeouts}
    spared = [Outcome() for _ in range(in_time)]
    go = threading.Event()

    def interrupted(timeout: float) -> None:
        go.wait(5)
        try:
            penalised_busy_loop(timeout, outcomes[timeout])
        except BaseException as exc:  # noqa: BLE001
            outcomes[timeout].raised = exc
        outcomes[timeout].finished = True

    def finishes(outcome: Outcome) -> None:
        go.wait(5)
        try:
            penalised_busy_loop(3.0, outcome, work=1.2)
        except BaseException as exc:  # noqa: BLE001
            outcome.raised = exc
        outcome.finished = True

    threads = [threading.Thread(target=interrupted, args=(t,), daemon=True) for t in timeouts]
    threads += [threading.Thread(target=finishes, args=(o,), daemon=True) for o in spared]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(BUSY_LIMIT + 5)
        assert not thread.is_alive()

    for timeout, outcome in outcomes.items():
        assert outcome.finished
        assert isinstance(outcome.raised, JobTimeoutException), (timeout, outcome.raised)
        assert f"({timeout:g} seconds)" in str(outcome.raised), "each thread gets its own timeout"
        assert timeout - 0.01 <= outcome.elapsed < timeout + 1.5, (timeout, outcome.elapsed)
    for outcome in spared:
        assert outcome.finished and outcome.raised is None
        assert outcome.elapsed >= 1.2


@pytest.mark.timeout(15)
@pytest.mark.parametrize("timeout", [0, -1])
def test_no_positive_timeout_means_no_timeout(timeout: int) -> None:
    outcome = run_in_thread(lambda o: penalised_busy_loop(timeout, o, work=1.0))
    assert outcome.raised is None
    assert outcome.elapsed >= 1.0


@pytest.mark.timeout(15)
def test_a_penalty_can_be_used_again_after_it_fired() -> None:
    def body(outcome: Outcome) -> None:
        with pytest.raises(JobTimeoutException):
            penalised_busy_loop(0.2, outcome)
        penalised_busy_loop(2.0, outcome, work=0.5)  # after a timeout, a later job runs normally
        busy(0.3)

    outcome = run_in_thread(body)
    assert outcome.raised is None
    assert outcome.elapsed >= 0.5
