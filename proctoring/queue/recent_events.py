"""The last job events, kept in Redis so that the admin's overview opens with them listed (the
events WebSocket only brings those that come after): a capped list, written by each worker's
event publisher once per batch (`proctoring.core.events`, `Publisher.add_sink`)."""

from __future__ import annotations

import json
from typing import Any

import redis

from proctoring.store import keys
from proctoring.store.connections import get_redis

KEEP = 50  # events kept, the newest; as many as the overview's list shows


def record(batch: list[dict[str, Any]], connection: redis.Redis | None = None) -> None:
    """Keeps the job events of `batch` (not cameras' connections, which name no job)."""
    kept = [json.dumps(item, separators=(",", ":"), default=str) for item in batch if item.get("job_id")]
    if not kept:
        return
    with (connection or get_redis()).pipeline(transaction=False) as pipe:
        pipe.lpush(keys.recent_events(), *kept[-KEEP:])
        pipe.ltrim(keys.recent_events(), 0, KEEP - 1)
        pipe.execute()


def read(limit: int = KEEP, connection: redis.Redis | None = None) -> list[dict[str, Any]]:
    """The last `limit` job events, newest first."""
    raw: list[bytes] = (connection or get_redis()).lrange(keys.recent_events(), 0, limit - 1)  # type: ignore[assignment]
    events = []
    for item in raw:
        try:
            events.append(json.loads(item))
        except ValueError:
            continue
    return events


def forget(client_id: str, connection: redis.Redis | None = None) -> int:
    """Removes the kept events of `client_id` (its erasure); returns how many there were."""
    connection = connection or get_redis()
    removed = 0
    for raw in connection.lrange(keys.recent_events(), 0, -1):
        try:
            named = json.loads(raw).get("client_id") == client_id
        except ValueError:
            named = False
        if named:
            removed += int(connection.lrem(keys.recent_events(), 0, raw))  # type: ignore[arg-type]
    return removed
