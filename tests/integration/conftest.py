"""Integration tests may use the private Redis, the test database, in-process ASGI communicators and the
recording API server (a thread), but no child process: a test here that starts one fails, naming it;
it belongs in tests/processes/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


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
