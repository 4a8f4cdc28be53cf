"""How late the gateway's event loop runs, and what held it when it stalled.

A task sleeps `INTERVAL` seconds again and again and measures how late each sleep wakes: that
lateness is what every frame waiting on the loop also waited. Each is counted in the shared
histograms (`metrics.LOOP_LAG`, all time, on /metrics; and one per minute for the admin
overview's last minutes). A watchdog thread looks at the loop's last wake-up every few
milliseconds; when the loop has not woken for `PROCTORING_LOOP_STALL_MS`, it takes the loop
thread's stack right then (what is running while it stalls, not after) and logs it with the
stall's length once the loop wakes. asyncio's own slow-callback report needs debug mode, which
costs far more than this; the probe's cost is a wake-up per `INTERVAL` on the loop and per
check on the thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable

from django.conf import settings

from proctoring.queue import metrics

log = logging.getLogger(__name__)

INTERVAL = 0.05  # seconds between the probe's wake-ups
STACK_FRAMES = 12  # innermost frames logged of a stalled loop's stack


class GcClock:
    """Time this process spends collecting garbage (gc.callbacks, any thread): a collection holds
    the GIL, so the loop stalls for all of it, while the stack the watchdog takes shows only
    whichever allocation set it off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = 0.0
        self.spent_ms = 0.0
        self.oldest_generation = -1

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        with self._lock:
            self.spent_ms += (time.perf_counter() - self._started) * 1000
            self.oldest_generation = max(self.oldest_generation, info.get("generation", 0))

    def take(self) -> tuple[float, int]:
        """(ms spent, oldest generation collected) since the last take."""
        with self._lock:
            spent, generation = self.spent_ms, self.oldest_generation
            self.spent_ms, self.oldest_generation = 0.0, -1
        return spent, generation


gc_clock = GcClock()


class Probe:
    """One event loop's lag probe: `tick` from the loop, `check` from the watchdog thread."""

    def __init__(self, stall_ms: float, report: Callable[[float, str], None]) -> None:
        self.stall_ms = stall_ms
        self.report = report
        self.loop_thread = threading.get_ident()
        self.last_wake = time.monotonic()
        self._stalled_stack: str | None = None  # taken during the stall under way
        self._lock = threading.Lock()

    def tick(self, slept_from: float, now: float) -> float:
        """The loop woke at `now` from a sleep of `INTERVAL` begun at `slept_from`: records the
        lateness (ms) and reports a stall the watchdog saw. Returns the lateness."""
        lag_ms = max(0.0, (now - slept_from - INTERVAL) * 1000)
        with self._lock:
            self.last_wake = now
            stack, self._stalled_stack = self._stalled_stack, None
        gc_ms, generation = gc_clock.take()
        minute = int(time.time() // 60)
        metrics.recorder.observe(metrics.LOOP_LAG, lag_ms, metrics.LOOP_LAG_BUCKETS_MS)
        metrics.recorder.observe(
            metrics.loop_lag_minute(minute),
            lag_ms,
            metrics.LOOP_LAG_BUCKETS_MS,
            ttl=(metrics.LOOP_LAG_WINDOW_MINUTES + 1) * 60,
        )
        if stack is not None or (self.stall_ms and lag_ms >= self.stall_ms):
            where = stack or "(the stall ended before the watchdog looked)"
            if gc_ms >= 1:
                where = (
                    f"garbage collection (generation {generation}) took {gc_ms:.0f} ms of it; "
                    f"the loop was at:\n{where}"
                )
            self.report(lag_ms, where)
        return lag_ms

    def check(self, now: float) -> bool:
        """From the watchdog: if the loop is late by the threshold, takes its stack (once per
        stall). True when it took one."""
        if not self.stall_ms:
            return False
        with self._lock:
            late_ms = (now - self.last_wake - INTERVAL) * 1000
            if late_ms < self.stall_ms or self._stalled_stack is not None:
                return False
            frame = sys._current_frames().get(self.loop_thread)
            lines = traceback.format_stack(frame)[-STACK_FRAMES:] if frame is not None else []
            self._stalled_stack = "".join(lines).rstrip() or "(no stack)"
            return True


def _log_stall(lag_ms: float, stack: str) -> None:
    log.warning("the event loop stalled for %.0f ms; it was running:\n%s", lag_ms, stack)


_probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def start() -> None:
    """Starts, once per event loop, the probe and its watchdog thread (from the loop's thread)."""
    loop = asyncio.get_running_loop()
    task = _probes.get(loop)
    if task is not None and not task.done():
        return
    probe = Probe(settings.PROCTORING_LOOP_STALL_MS, _log_stall)
    if gc_clock not in gc.callbacks:
        gc.callbacks.append(gc_clock)
    _probes[loop] = loop.create_task(_run(probe))
    if probe.stall_ms:
        threading.Thread(target=_watch, args=(probe, loop), name="loop-lag-watchdog", daemon=True).start()


async def _run(probe: Probe) -> None:
    while True:
        slept_from = time.monotonic()
        await asyncio.sleep(INTERVAL)
        probe.tick(slept_from, time.monotonic())


def _watch(probe: Probe, loop: asyncio.AbstractEventLoop) -> None:
    # A fixed pace, not an event to wait for: this thread exists to notice the loop NOT waking.
    pace = max(0.005, probe.stall_ms / 4000)
    while not loop.is_closed():
        time.sleep(pace)
        probe.check(time.monotonic())
