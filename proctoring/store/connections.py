"""The process's Redis clients: one threaded pool shared by every thread, and one asyncio pool per
event loop. Both wait for a free connection instead of failing when all are busy (redis-py's
default pool raises past 100 connections), both check the server's certificate over TLS
(`settings.REDIS_TLS_OPTIONS`), and under Sentinel both follow the primary."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any

import redis
import redis.asyncio

from proctoring.store import shards
from proctoring_site import redis_clients

_lock = threading.Lock()
_clients: dict[tuple[str, int], redis.Redis] = {}

POOL_SIZE = 64
# Both kinds of pool: wait up to 5 s for a free connection; a dead Redis is noticed in seconds.
POOL_OPTIONS: dict[str, Any] = {
    "max_connections": POOL_SIZE,
    "timeout": 5,
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}


def get_redis() -> redis.Redis:
    """A Redis client for `settings.REDIS_URL` (or the shard of `shards.using`), made once per
    process (a fork gets its own)."""
    url = shards.current()
    key = (url, os.getpid())
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis(connection_pool=redis_clients.blocking_pool(url, **POOL_OPTIONS))
                _clients[key] = client
    return client


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)


def get_async_redis() -> redis.asyncio.Redis:
    """An asyncio Redis client for the running event loop (the gateway's), made once per loop.

    Its pool waits for a free connection rather than failing, like the threaded one."""
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.setdefault(loop, {})
    url = shards.current()
    client = per_loop.get(url)
    if client is None:
        client = redis.asyncio.Redis(connection_pool=redis_clients.async_blocking_pool(url, **POOL_OPTIONS))
        per_loop[url] = client
    return client
