"""Every Redis key this project writes (besides RQ's own), built in one place.

proctoring:client:<client_id>:pending   sorted set of job ids (score: enqueue time) that are
                                        queued, running or waiting to retry for one client;
                                        its size is the per-client admission limit.
"""

from __future__ import annotations

PREFIX = "proctoring"


def client_pending(client_id: str) -> str:
    return f"{PREFIX}:client:{client_id}:pending"


def frame(job_id: str) -> str:
    return f"{PREFIX}:frame:{job_id}"


def stale_count() -> str:
    return f"{PREFIX}:stats:stale"
