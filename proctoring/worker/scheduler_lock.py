"""A dead scheduler's lock, freed as soon as its holder is known dead rather than when its TTL
runs out (61 s after the holder's last heartbeat): until then no worker's scheduler sweeps the
abandoned jobs or queues the due retries, and the frames of a killed lone worker go stale.

"Known dead" must never take a live scheduler's lock, so it asks for two things: the holder has
not refreshed its lock for `SILENT_SECONDS` (a live one refreshes it with every heartbeat, four
times a second for ours, once a second for RQ's own), and either its hash is gone (RQ recorded
its death, or the hash expired) or it ran on this host and its process is not alive here. A
holder on another host whose hash lives on is left to its TTL: its pid means nothing here.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

import redis

from proctoring.store import rq_internals
from proctoring.store.rq_internals import SchedulerLock

log = logging.getLogger(__name__)

# Seconds without a refresh before a holder may be judged dead: many missed heartbeats, so that
# two processes with the same host name and pid (containers sharing the host's network) never
# make a live holder look dead, while a dead one's lock is freed within seconds of its death.
SILENT_SECONDS = 3.0


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie, exited but not yet reaped, does not)."""
    if pid <= 0:
        return True  # not a pid we can judge: assume the holder lives
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def death_of(lock: SchedulerLock, hostname: str, alive: Callable[[int], bool] = pid_alive) -> str | None:
    """Why the holder of `lock` is known dead, or None when it may be alive. `hostname`: this
    host's name; `alive`: whether a pid runs on this host."""
    if lock.silent_for < SILENT_SECONDS:
        return None
    if lock.hostname is None:
        return f"its record is gone and it has not refreshed the lock for {lock.silent_for:.1f} s"
    if lock.hostname == hostname and lock.pid is not None and not alive(lock.pid):
        return f"its process {lock.pid} on this host is gone (silent for {lock.silent_for:.1f} s)"
    return None


def free_if_dead(
    connection: redis.Redis, queue_names: Iterable[str], hostname: str | None = None
) -> list[str]:
    """Frees each of `queue_names`' scheduler locks whose holder is known dead (only if that
    holder still holds it), so that a live scheduler can take it at once.

    Returns:
        The queues whose lock was freed.
    """
    here = hostname if hostname is not None else socket.gethostname()
    freed = []
    for name in queue_names:
        lock = rq_internals.scheduler_lock(connection, name)
        if lock is None:
            continue
        reason = death_of(lock, here)
        if reason and rq_internals.release_scheduler_lock(connection, name, lock.holder):
            log.warning("scheduler lock of %s: holder %s is dead (%s); freed", name, lock.holder, reason)
            freed.append(name)
    return freed
