"""Job leases: a taken job's entry in the started registry is its worker's until the lease
ends, and the worker renews the leases of the jobs it holds from one thread.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

LEASE_RENEW_FRACTION = 6  # a lease is renewed this many times in its length


def lease_seconds() -> int:
    """How long a taken job is its worker's unless renewed (`PROCTORING_JOB_LEASE_SECONDS`)."""
    return int(settings.PROCTORING_JOB_LEASE_SECONDS)


class Leases:
    """The started-registry entries a worker holds, renewed from one thread six times per
    lease (whatever the worker's main loop is doing, a warm shutdown included)."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._held: dict[str, str] = {}  # composite key -> started registry key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rq-leases", daemon=True)
        self._thread.start()

    def hold(self, composite: str, registry_key: str) -> None:
        with self._lock:
            self._held[composite] = registry_key

    def release(self, composites: list[str]) -> None:
        with self._lock:
            for composite in composites:
                self._held.pop(composite, None)

    def renew(self) -> None:
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        until = int(time.time()) + lease_seconds()
        by_registry: dict[str, dict[str, int]] = {}
        for composite, registry_key in held.items():
            by_registry.setdefault(registry_key, {})[composite] = until
        with self.connection.pipeline(transaction=False) as pipe:
            for registry_key, members in by_registry.items():
                # XX: an entry its job's success or failure already removed stays removed.
                pipe.zadd(registry_key, members, xx=True)
            pipe.execute()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(lease_seconds() / LEASE_RENEW_FRACTION):
            try:
                self.renew()
            except redis.RedisError as exc:
                log.warning("could not renew %d job lease(s): %s", len(self._held), exc)
