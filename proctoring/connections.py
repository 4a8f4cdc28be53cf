"""The process's Redis client: one pool shared by every thread, waiting for a free connection
instead of failing when all are busy (redis-py's default pool raises past 100 connections)."""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_clients: dict[tuple[str, int], redis.Redis] = {}

POOL_SIZE = 64


def get_redis() -> redis.Redis:
    """A Redis client for `settings.REDIS_URL`, made once per process (a fork gets its own)."""
    key = (settings.REDIS_URL, os.getpid())
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                pool = redis.BlockingConnectionPool.from_url(
                    settings.REDIS_URL,
                    max_connections=POOL_SIZE,
                    timeout=5,
                    socket_timeout=10,
                    socket_connect_timeout=5,
                    health_check_interval=30,
                )
                client = redis.Redis(connection_pool=pool)
                _clients[key] = client
    return client
