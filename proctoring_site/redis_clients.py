"""Connection pools and clients of the configured Redis (`settings.REDIS_URL`, or the primary the
sentinels name under `settings.REDIS_SENTINEL`), for every part of the project that opens one.

Under Sentinel, a pool asks the sentinels for the primary's address each time it opens a
connection, and drops its idle connections when the address changes: after a failover, the
first command on a dead connection fails, and the next one reaches the new primary. A primary
that the sentinels replaced but that still runs (a failover that raced another one, a primary
cut off for a while) keeps its connections open, though: so every pool also asks every
`FOLLOW_EVERY` seconds, and leaves a primary the sentinels no longer name within that time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from django.conf import settings

from proctoring_site.redis_config import SentinelConfig, node_kwargs, sentinel_kwargs

log = logging.getLogger(__name__)

FOLLOW_EVERY = 1.0  # seconds between asking the sentinels where the primary is
# A worker's (and its scheduler's) own pool, rebuilt under Sentinel: wait up to 30 s for a free
# connection; a dead primary is noticed within seconds.
WORKER_POOL_OPTIONS: dict[str, Any] = {"timeout": 30, "socket_timeout": 10, "socket_connect_timeout": 5}


class BlockingSentinelPool(redis.sentinel.SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool that waits for a free connection (redis-py has only the failing kind)."""


class AsyncBlockingSentinelPool(
    redis.asyncio.sentinel.SentinelConnectionPool, redis.asyncio.BlockingConnectionPool
):
    """The same for asyncio clients."""


def _sentinel_config() -> SentinelConfig | None:
    config: SentinelConfig | None = settings.REDIS_SENTINEL
    return config


def sentinel_manager() -> redis.sentinel.Sentinel:
    config = _sentinel_config()
    assert config is not None
    return redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        config.sentinels, sentinel_kwargs=sentinel_kwargs(config, settings.REDIS_TLS_OPTIONS)
    )


def blocking_pool(url: str | None = None, **options: Any) -> redis.BlockingConnectionPool:
    """A pool (`max_connections`, `timeout` to wait for one, socket options) of the configured
    Redis (or of `url`, one of `REDIS_SHARDS`) that waits for a free connection instead of
    failing."""
    config = _sentinel_config()
    if config is None:
        return redis.BlockingConnectionPool.from_url(
            url or settings.REDIS_URL, **options, **settings.REDIS_TLS_OPTIONS
        )
    pool = BlockingSentinelPool(  # type: ignore[no-untyped-call]
        config.master, sentinel_manager(), **node_kwargs(config, settings.REDIS_TLS_OPTIONS), **options
    )
    _follow(pool)
    return pool


def async_blocking_pool(url: str | None = None, **options: Any) -> redis.asyncio.BlockingConnectionPool:
    """`blocking_pool` for asyncio clients (one per event loop)."""
    config = _sentinel_config()
    if config is None:
        return redis.asyncio.BlockingConnectionPool.from_url(
            url or settings.REDIS_URL, **options, **settings.REDIS_TLS_OPTIONS
        )
    manager = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        config.sentinels, sentinel_kwargs=sentinel_kwargs(config, settings.REDIS_TLS_OPTIONS)
    )
    pool = AsyncBlockingSentinelPool(  # type: ignore[no-untyped-call]
        config.master, manager, **node_kwargs(config, settings.REDIS_TLS_OPTIONS), **options
    )
    task = asyncio.get_running_loop().create_task(_afollow(weakref.ref(pool)))
    _tasks.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(_tasks.discard)
    return pool


def client(**options: Any) -> redis.Redis:
    """A client of the configured Redis with a pool of its own (checks, one-off scripts):
    close it after use."""
    config = _sentinel_config()
    if config is None:
        return redis.Redis.from_url(settings.REDIS_URL, **options, **settings.REDIS_TLS_OPTIONS)
    primary: redis.Redis = sentinel_manager().master_for(  # type: ignore[no-untyped-call]
        config.master, **node_kwargs(config, settings.REDIS_TLS_OPTIONS), **options
    )
    return primary


def use_blocking_pool(connection: redis.Redis, size: int) -> None:
    """Gives a worker's Redis client (shared with its queues) a pool of `size` that waits for a
    free connection: redis-py's default pool fails past its limit, and dozens of job threads
    each holding one or two connections reach it."""
    old = connection.connection_pool
    if isinstance(old, redis.sentinel.SentinelConnectionPool):
        # Its connections need their Sentinel pool: make another of the same configured Redis.
        connection.connection_pool = blocking_pool(max_connections=size, **WORKER_POOL_OPTIONS)
    else:
        connection.connection_pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
            connection_class=old.connection_class, max_connections=size, timeout=30, **old.connection_kwargs
        )
    old.disconnect()


_followed: weakref.WeakSet[BlockingSentinelPool] = weakref.WeakSet()
_follower_pid = 0
_follower_lock = threading.Lock()
_tasks: set[asyncio.Task[None]] = set()


def _follow(pool: BlockingSentinelPool) -> None:
    """Has this process's follower thread (one per process: a fork starts its own) keep `pool`
    on the primary the sentinels name."""
    global _follower_pid
    with _follower_lock:
        _followed.add(pool)
        if _follower_pid != os.getpid():
            _follower_pid = os.getpid()
            threading.Thread(target=_follow_forever, name="sentinel-follower", daemon=True).start()


def _follow_forever() -> None:
    while True:
        time.sleep(FOLLOW_EVERY)
        for pool in list(_followed):
            _ask(pool)


def _ask(pool: BlockingSentinelPool) -> None:
    before = pool.master_address
    try:
        # Drops the idle connections to another address; busy ones go when given back.
        address = pool.get_master_address()  # type: ignore[no-untyped-call]
    except redis.RedisError as exc:  # no sentinel answers, or none knows a primary: commands say so
        log.debug("no primary from the sentinels now: %s", exc)
        return
    if before is not None and address != before:
        log.warning("Redis primary moved from %s:%s to %s:%s (Sentinel)", *before, *address)


async def _afollow(pool_ref: weakref.ref[AsyncBlockingSentinelPool]) -> None:
    """`_follow` for an asyncio pool, as a task of its event loop, until the pool is gone."""
    while True:
        await asyncio.sleep(FOLLOW_EVERY)
        pool = pool_ref()
        if pool is None:
            return
        before = pool.master_address
        try:
            address = await pool.get_master_address()  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            log.debug("no primary from the sentinels now: %s", exc)
            continue
        if before is not None and address != before:
            log.warning("Redis primary moved from %s:%s to %s:%s (Sentinel)", *before, *address)
        del pool
