"""The rate limit per API key: `PROCTORING_API_CALLS_PER_MINUTE` calls in each clock minute,
counted in Redis (the site's cache is per process, and the site runs several), answered 429 with
Retry-After (the seconds to the next minute) once spent."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from proctoring.models import ApiKey
from proctoring.store import keys as redis_keys
from proctoring.store.connections import get_redis

WINDOW = 60


def spend(key_id: int, limit: int, now: float | None = None) -> float | None:
    """Counts one call of the key; None if it is within the limit, else the seconds until the
    next window."""
    now = time.time() if now is None else now
    minute = int(now // WINDOW)
    name = redis_keys.api_key_calls(key_id, minute)
    pipe = get_redis().pipeline()
    pipe.incr(name)
    pipe.expire(name, 2 * WINDOW)
    count, _ = pipe.execute()
    if int(count) <= limit:
        return None
    return (minute + 1) * WINDOW - now


class PerKeyThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True  # refused before: authentication runs first
        self.wait_seconds = spend(key.pk, settings.PROCTORING_API_CALLS_PER_MINUTE)
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds
