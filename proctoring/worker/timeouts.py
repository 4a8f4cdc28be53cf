"""Job timeouts for a worker that runs jobs in threads, from one watchdog thread.

SIGALRM (RQ's default) only reaches the main thread, and RQ's `TimerDeathPenalty` starts a new
thread per job to raise the timeout in the job's thread: a thread started and stopped for every
frame. Here one thread per process keeps every running job's deadline and raises
`JobTimeoutException` in the job's thread when it passes, the same way (an asynchronous
exception, which lands at the job's next Python bytecode: a job blocked in a C call, such as a
socket read, is stopped once that call returns, so the API call keeps its own timeout).
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import threading
import time
from typing import Any

from rq.timeouts import BaseDeathPenalty, JobTimeoutException


class _Watchdog:
    def __init__(self) -> None:
        self._deadlines: list[tuple[float, int, int, type[BaseException]]] = []
        self._live: set[int] = set()
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._pid: int | None = None

    def watch(self, seconds: float, thread_id: int, exception: type[BaseException]) -> int:
        self._ensure_running()
        token = next(self._order)
        with self._changed:
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, token, thread_id, exception))
            self._live.add(token)
            if self._deadlines[0][1] == token:
                self._changed.notify()
        return token

    def cancel(self, token: int) -> None:
        with self._changed:
            self._live.discard(token)

    def _ensure_running(self) -> None:
        # A forked child inherits the object but not the thread.
        if self._pid == os.getpid():
            return
        with self._changed:
            if self._pid != os.getpid():
                self._deadlines.clear()
                self._live.clear()
                threading.Thread(target=self._run, name="job-timeouts", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._deadlines and self._deadlines[0][1] not in self._live:
                    heapq.heappop(self._deadlines)
                if not self._deadlines:
                    self._changed.wait()
                    continue
                deadline, token, thread_id, exception = self._deadlines[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._deadlines)
                self._live.discard(token)
                _raise_in(thread_id, exception)


def _raise_in(thread_id: int, exception: type[BaseException]) -> None:
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exception))
    if done > 1:  # more than one thread state touched: undo, as the C API documents
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


_watchdog = _Watchdog()
_exceptions: dict[tuple[type[BaseException], float], type[BaseException]] = {}


def _timeout_exception(base: type[BaseException], seconds: float) -> type[BaseException]:
    """An exception class whose message says the timeout (an asynchronous exception is raised
    from its class, so the message cannot be passed in)."""
    key = (base, seconds)
    cls = _exceptions.get(key)
    if cls is None:
        message = f"Task exceeded maximum timeout value ({seconds:g} seconds)"

        def __init__(self: BaseException, *args: Any) -> None:
            base.__init__(self, *(args or (message,)))

        cls = type(base.__name__, (base,), {"__init__": __init__, "__module__": base.__module__})
        _exceptions[key] = cls
    return cls


class WatchdogDeathPenalty(BaseDeathPenalty):
    """RQ's death-penalty interface (`with penalty(timeout, exception, job_id=…):`) on the
    process's one watchdog thread."""

    def __init__(self, timeout: float, exception: type[BaseException] = JobTimeoutException, **kwargs: Any):
        super().__init__(timeout, exception, **kwargs)  # type: ignore[no-untyped-call]
        # Kept here too: RQ's copies (`_timeout`, `_exception`) are private.
        self._seconds = timeout
        self._exception_class = exception
        self._thread_id = threading.get_ident()
        self._token: int | None = None

    def setup_death_penalty(self) -> None:
        if self._seconds <= 0:
            return
        exception = _timeout_exception(self._exception_class, self._seconds)
        self._token = _watchdog.watch(self._seconds, self._thread_id, exception)

    def cancel_death_penalty(self) -> None:
        if self._token is not None:
            _watchdog.cancel(self._token)
            self._token = None
