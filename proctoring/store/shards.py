"""Clients spread over several independent Redis primaries (`REDIS_SHARDS`).

A client's frames, counts, hint and thumbnail all live on one shard, picked by a hash of its id
that every process computes alike, so no operation ever spans two shards (RQ's transactions
need all their keys on one server, which is also why Redis Cluster cannot serve RQ). A worker
serves one shard (`REDIS_SHARD`); the gateway picks the client's shard for each frame; the admin
pages and figures read every shard and add them up.

Code that touches Redis through `connections.get_redis()` / `get_async_redis()` (and the
queue of `policy.get_queue()`) reaches the shard chosen by `using()` around it, else this
process's own.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

_current: ContextVar[str | None] = ContextVar("proctoring_shard", default=None)


def urls() -> list[str]:
    """Every shard's Redis (one, `REDIS_URL`, when not sharded)."""
    shards: list[str] = settings.REDIS_SHARDS
    return list(shards) if shards else [settings.REDIS_URL]


def index_of(client_id: str) -> int:
    """The shard of a client: CRC32 of its id, so that every process and every restart agrees
    (Python's own hash of a string changes per process). Changing the list of shards moves
    clients: do it between exams."""
    count = len(settings.REDIS_SHARDS) or 1
    return zlib.crc32(client_id.encode()) % count


def of_client(client_id: str) -> str:
    return urls()[index_of(client_id)]


def current() -> str:
    """The Redis that `get_redis()` reaches now."""
    return _current.get() or settings.REDIS_URL


def sharded() -> bool:
    return len(settings.REDIS_SHARDS) > 1


@contextmanager
def using(url: str) -> Iterator[str]:
    """`get_redis()` and `get_async_redis()` reach `url` inside (this thread or task only)."""
    token = _current.set(url)
    try:
        yield url
    finally:
        _current.reset(token)


@contextmanager
def client_shard(client_id: str) -> Iterator[str]:
    with using(of_client(client_id)) as url:
        yield url


def each() -> Iterator[str]:
    """Runs the loop's body once per shard, with `get_redis()` reaching it."""
    for url in urls():
        with using(url):
            yield url
