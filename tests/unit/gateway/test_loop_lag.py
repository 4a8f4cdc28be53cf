"""The gateway's loop-lag probe: it measures how late the loop wakes, and when the loop stalls it
names what was running during the stall (taken by its watchdog thread while the loop is held)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from proctoring.gateway import loop_lag
from proctoring.queue import metrics


def approx(value: float) -> object:
    return pytest.approx(value, abs=0.01)


def hold_the_loop_for(seconds: float) -> None:
    """Blocking work on the event loop's thread: what a stall is."""
    time.sleep(seconds)


def test_a_stall_is_reported_with_its_length_and_the_code_that_held_the_loop() -> None:
    reports: list[tuple[float, str]] = []
    reported = threading.Event()

    def report(lag_ms: float, stack: str) -> None:
        reports.append((lag_ms, stack))
        reported.set()

    async def scenario() -> None:
        probe = loop_lag.Probe(stall_ms=80, report=report)
        task = asyncio.create_task(loop_lag._run(probe))
        watchdog = threading.Thread(
            target=loop_lag._watch, args=(probe, asyncio.get_running_loop()), daemon=True
        )
        watchdog.start()
        for _ in range(4):  # a few calm wake-ups first: no report
            await asyncio.sleep(loop_lag.INTERVAL)
        assert reports == []
        hold_the_loop_for(0.3)
        deadline = time.monotonic() + 5
        while not reported.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    [(lag_ms, stack)] = reports
    assert lag_ms >= 200
    assert "hold_the_loop_for" in stack and "time.sleep" in stack


def test_each_wake_up_is_counted_in_the_all_time_and_the_minute_histograms() -> None:
    probe = loop_lag.Probe(stall_ms=0, report=lambda lag, stack: None)
    metrics.recorder.take()
    assert probe.tick(100.0, 100.0 + loop_lag.INTERVAL + 0.012) == approx(12.0)
    histograms, _, ranges = metrics.recorder.take()
    minute = int(time.time() // 60)
    for name in (metrics.LOOP_LAG, metrics.loop_lag_minute(minute)):
        assert histograms[name]["20"] == 1 and histograms[name]["count"] == 1
        assert ranges[name]["20"] == (approx(12.0), approx(12.0))
    assert (
        metrics.recorder.ttl_of(metrics.loop_lag_minute(minute)) == (metrics.LOOP_LAG_WINDOW_MINUTES + 1) * 60
    )
    assert metrics.recorder.ttl_of(metrics.LOOP_LAG) is None


def test_without_a_threshold_nothing_is_reported_and_the_watchdog_takes_no_stack() -> None:
    reports: list[float] = []
    probe = loop_lag.Probe(stall_ms=0, report=lambda lag, stack: reports.append(lag))
    assert not probe.check(time.monotonic() + 10)
    probe.tick(0.0, 5.0)
    metrics.recorder.take()
    assert reports == []


def test_time_spent_collecting_garbage_is_named_in_the_stall_report() -> None:
    import gc

    reports: list[str] = []
    probe = loop_lag.Probe(stall_ms=50, report=lambda lag, stack: reports.append(stack))
    gc.callbacks.append(loop_lag.gc_clock)
    try:
        loop_lag.gc_clock.take()
        started = time.monotonic()
        gc.collect()  # a full collection, as the gateway's would run in the middle of a frame
        probe.tick(started - loop_lag.INTERVAL, started + 0.2)
    finally:
        gc.callbacks.remove(loop_lag.gc_clock)
    metrics.recorder.take()
    [report] = reports
    assert report.startswith("garbage collection (generation 2) took ")
