"""Pytest plugin (loaded with `-p tests.redis_plugin`): a private redis-server for the whole run.

It starts before pytest-django reads the Django settings (a hook wrapper around
`pytest_load_initial_conftests`), so the settings' one Redis address is this server's. It never
touches a Redis someone else started, and stops its own by PID at the end of the run. Under
pytest-xdist (`make test` runs two processes) every pytest process starts its own, with its own
working directory and database, so the processes share nothing but the cores.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from proctoring_site.embedded_redis import RedisServer
from proctoring_site.env import SECRETS

_state: dict[str, Any] = {}

# Variables of a developer's shell that would point the tests somewhere else.
_FOREIGN = [
    "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_TLS_CA_FILE",
    "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD", "REDIS_WAIT_REPLICAS",
    "REDIS_SHARDS", "REDIS_SHARD",
    "DATABASE_URL",
    "PROCTORING_API_KEY", "REFERENCE_API_KEY", "DJANGO_ENV_FILE", "DJANGO_ALLOWED_HOSTS",
    "PROCTORING_SNAPSHOT_DIR", "DJANGO_HTTPS", "DJANGO_HSTS_SECONDS", "DJANGO_BEHIND_TLS_PROXY",
    "DJANGO_STATIC_ROOT", *(f"{name}_FILE" for name in SECRETS),
]  # fmt: skip


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: Any) -> Generator[None]:
    workdir = Path(tempfile.mkdtemp(prefix="proctoring-tests-"))
    server = RedisServer(workdir / "redis").start()
    _state.update(server=server, workdir=workdir)
    for name in _FOREIGN:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "REDIS_URL": server.url,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "DJANGO_ENV_FILE": str(workdir / "no.env"),
            "DJANGO_DEBUG": "false",
            "DJANGO_HTTPS": "false",  # the tests speak plain HTTP to 127.0.0.1
            "DJANGO_SECRET_KEY": "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
            "PROCTORING_SNAPSHOT_DIR": str(workdir / "snapshots"),
            # Each test that needs the API points this at its own recording server.
            "PROCTORING_API_URL": "http://127.0.0.1:9/not-configured-in-this-test",
            # Mounted although DJANGO_DEBUG is off: tests (and their servers) call it.
            "PROCTORING_REFERENCE_API": "true",
        }
    )
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _state.pop("server", None)
    if server is not None:
        server.stop()
    workdir = _state.pop("workdir", None)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def redis_server() -> RedisServer:
    server: RedisServer = _state["server"]
    return server


def workdir() -> Path:
    path: Path = _state["workdir"]
    return path
