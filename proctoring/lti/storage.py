"""Where a launch's state lives between the OIDC login and the launch: Redis, which every gateway
process shares (the site's cache is per process, and the login and the launch may reach two of
them). Keys are bound to the browser's `lti1p3-session-id` cookie, so a nonce issued to one browser
is no use in another; a nonce is spent by the launch that shows it. The platforms' key sets are
kept here a few minutes too."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pylti1p3.launch_data_storage.base import LaunchDataStorage

from proctoring.store import keys as redis_keys
from proctoring.store.connections import get_redis


class RedisLaunchStorage(LaunchDataStorage[Any]):
    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        raw = get_redis().get(redis_keys.lti_launch(self._prepare_key(key)))
        return None if raw is None else json.loads(raw)

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        get_redis().set(redis_keys.lti_launch(self._prepare_key(key)), json.dumps(value), ex=exp)

    def check_value(self, key: str) -> bool:
        return bool(get_redis().exists(redis_keys.lti_launch(self._prepare_key(key))))

    def take(self, key: str) -> bool:
        """Whether the key was there; it is not any more (one caller of many wins)."""
        return get_redis().getdel(redis_keys.lti_launch(self._prepare_key(key))) is not None


# How long a platform's key set is trusted without asking again (a key it rotates in is fetched
# at once: see launches._MessageLaunch.fetch_public_key).
KEY_SET_SECONDS = 300


def cached_key_set(url: str) -> dict[str, Any] | None:
    raw = get_redis().get(redis_keys.lti_key_set(_digest(url)))
    return None if raw is None else dict(json.loads(raw))


def keep_key_set(url: str, key_set: dict[str, Any]) -> None:
    get_redis().set(redis_keys.lti_key_set(_digest(url)), json.dumps(key_set), ex=KEY_SET_SECONDS)


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()
