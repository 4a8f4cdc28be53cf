"""Clients spread over two independent Redis primaries (`REDIS_SHARDS`): the gateway puts each
client's frames on its own shard, one worker per shard delivers them, and the figures of the
admin pages, `proctoring_stats` and /metrics add both shards up.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/store/test_shards.py."""

from __future__ import annotations

import zlib

from proctoring.store import shards


def test_a_client_always_has_the_same_shard(settings):
    settings.REDIS_SHARDS = ["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0", "redis://127.0.0.1:3/0"]
    client = "3f1e0a6e-8d7c-4c1b-9a57-0b6a3d2f4e11"
    # CRC32, not Python's per-process string hash: every gateway and every restart agrees.
    assert shards.index_of(client) == zlib.crc32(client.encode()) % 3
    assert shards.of_client(client) == settings.REDIS_SHARDS[shards.index_of(client)]
    spread = {shards.index_of(f"client-{i}") for i in range(60)}
    assert spread == {0, 1, 2}
