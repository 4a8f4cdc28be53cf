"""Finding which shard holds a job the admin pages were given by id (`REDIS_SHARDS`)."""

from __future__ import annotations

from rq.job import Job

from proctoring.store import keys, shards
from proctoring.store.connections import get_redis


def shard_of_job(job_id: str) -> str:
    """The shard that holds job `job_id` (its job hash or its frame), else this process's own."""
    if not shards.sharded():
        return shards.current()
    for url in shards.each():
        with get_redis().pipeline(transaction=False) as pipe:
            pipe.exists(Job.key_for(job_id))
            pipe.exists(keys.frame(job_id))
            if any(pipe.execute()):
                return url
    return shards.current()
