"""Unit tests need no Redis, no database and no child process. A unit test that sends Redis a command,
starts a process or asks for the database fails, naming what it did: it belongs in tests/integration/
or tests/processes/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from redis.connection import AbstractConnection

DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}


@pytest.fixture(autouse=True)
def clean_redis(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Replaces the suite's (which empties Redis): here Redis and child processes are refused."""
    if request.node.get_closest_marker("django_db") or DATABASE_FIXTURES & set(request.fixturenames):
        pytest.fail("a unit test asks for the database: it belongs in tests/integration/")
    refused: list[str] = []

    def send_command(self: AbstractConnection, *args: Any, **options: Any) -> None:
        refused.append(f"sent Redis {args[0]!r}")
        raise AssertionError(f"a unit test {refused[-1]}: it belongs in tests/integration/")

    def popen(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        refused.append(f"started {args!r}")
        raise AssertionError(f"a unit test {refused[-1]}: it belongs in tests/processes/")

    monkeypatch.setattr(AbstractConnection, "send_command", send_command)
    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    yield
    if refused:  # even if the code under test swallowed the error
        pytest.fail(f"a unit test {refused[0]}")
