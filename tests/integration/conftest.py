"""Integration tests may use the private Redis, the test database, in-process ASGI communicators and the
recording API server (a thread), but no child process: a test here that starts one fails, naming it;
it belongs in tests/processes/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from proctoring.core import events
from proctoring.queue import recent_events


@pytest.fixture(autouse=True)
def no_child_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[str] = []

    def popen(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        started.append(repr(args))
        raise AssertionError(f"an integration test started {args!r}: it belongs in tests/processes/")

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    yield
    if started:  # even if the code under test swallowed the error
        pytest.fail(f"an integration test started {started[0]}")


@pytest.fixture(autouse=True)
def no_kept_events_after_an_in_process_worker() -> Iterator[None]:
    """A ProctoringWorker built in this process has the event publisher keep the last events in
    Redis (`recent_events`): for its own test only, not for those that come after."""
    yield
    events.publisher.remove_sink(recent_events.record)
