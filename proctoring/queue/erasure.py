"""Erasing one client (an attempt) from Redis, on its shard: its queued, retrying, running and
failed frames with RQ's records of their jobs, its counts, hint, thumbnail and freshness, its
places in the rings and the clients index (store/scripts/client_erase.lua), with the failed
images' byte counts kept true (`failed_images.settle`, in the same transaction).

A frame a worker is running meanwhile loses its job hash and envelope at once; its worker may
still write a few of the client's keys as it ends it, so the erasure waits for it (at most a
job's timeout and lease) and erases again. `survey` says what an erasure would remove.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from proctoring.queue import failed_images, lateness, policy, recent_events
from proctoring.store import keys, rq_internals, scripts, shards
from proctoring.store.connections import get_redis

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000  # job hashes read per round trip when looking through RQ's registries
POLL_SECONDS = 0.1  # how often the erasure looks whether a running frame has ended


@dataclass
class RedisErasure:
    """What Redis held of one or more clients: job hashes, frame envelopes, client keys, and the
    bytes of failed frames' images counted against the byte caps."""

    jobs: int = 0
    frames: int = 0
    keys: int = 0
    failed_image_bytes: int = 0
    # Jobs still running when the wait ran out (their worker hung or died): erased, but their
    # worker may yet write a key of the client, which expires by itself.
    left_running: list[str] = field(default_factory=list)

    def add(self, other: RedisErasure) -> None:
        self.jobs += other.jobs
        self.frames += other.frames
        self.keys += other.keys
        self.failed_image_bytes += other.failed_image_bytes
        self.left_running += other.left_running


def client_keys(client_id: str) -> list[str]:
    """Every key that belongs to one client alone."""
    return [
        keys.client_pending(client_id),
        keys.client_waiting(client_id),
        keys.client_failed(client_id),
        keys.client_failed_images(client_id),
        keys.client_counts(client_id),
        keys.client_priority(client_id),
        keys.client_latest(client_id),
        keys.client_hint(client_id),
        keys.client_hasty(client_id),
        keys.client_times(client_id),
        keys.connections_of_attempt(client_id),
        keys.client_refusals(client_id),
        keys.client_times_range(client_id),
    ]


def survey(client_id: str) -> RedisErasure:
    """What `erase` would remove of `client_id` now; changes nothing."""
    with shards.client_shard(client_id):
        connection = get_redis()
        job_ids = sorted(_job_ids(connection, client_id) | _in_registries(connection, client_id))
        with connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(keys.frame(job_id))
                pipe.exists(Job.key_for(job_id))
            pipe.exists(*client_keys(client_id))
            pipe.hget(keys.failed_image_client_bytes(), client_id)
            answers = pipe.execute()
    return RedisErasure(
        jobs=sum(answers[1 : 2 * len(job_ids) : 2]),
        frames=sum(answers[0 : 2 * len(job_ids) : 2]),
        keys=answers[-2],
        failed_image_bytes=int(answers[-1] or 0),
    )


def erase(client_id: str, wait: float | None = None) -> RedisErasure:
    """Erases `client_id` from Redis. A frame being run meanwhile is waited for, at most `wait`
    seconds (default: a job's timeout and lease), and what its worker wrote is erased then."""
    with shards.client_shard(client_id):
        connection = get_redis()
        found = sorted(_in_registries(connection, client_id))
        report = _erase_once(connection, client_id, found, whole=False)
        running, report.left_running = report.left_running, []
        if running:
            limit = wait if wait is not None else policy.job_timeout() + settings.PROCTORING_JOB_LEASE_SECONDS
            still = _wait_ended(connection, running, time.monotonic() + limit)
            if still:
                log.warning("erasing client %s: job(s) %s still running after %.0fs", client_id, still, limit)
            report.add(_erase_once(connection, client_id, running, whole=True))
            report.left_running = still
        lateness.forget_client(connection, client_id)  # what the expired list kept of its frames
    for _ in shards.each():  # the overview's last events are kept where each worker's publisher wrote
        recent_events.forget(client_id)
    log.info(
        "client %s erased from Redis: %d job(s), %d frame(s), %d key(s), %d failed image byte(s)",
        client_id,
        report.jobs,
        report.frames,
        report.keys,
        report.failed_image_bytes,
    )
    return report


def _erase_once(connection: redis.Redis, client_id: str, job_ids: list[str], whole: bool) -> RedisErasure:
    """One pass of client_erase.lua, after the client's kept failed images are forgotten by the
    byte caps' own script; watched, so that an image kept meanwhile is not left counted."""
    images_key = keys.client_failed_images(client_id)
    freed: list[int] = []
    settled: list[str] = []

    def transaction(pipe: Any) -> None:
        kept = [member.decode() for member in pipe.zrange(images_key, 0, -1)]
        freed[:] = [int(pipe.hget(keys.failed_image_client_bytes(), client_id) or 0)]
        settled[:] = kept
        pipe.multi()
        for job_id in kept:
            failed_images.settle(pipe, job_id, client_id, failed_images.FORGET)
        _script(pipe, client_id, job_ids, whole)

    answers: list[Any] = connection.transaction(transaction, images_key)  # type: ignore[assignment]
    jobs, frames, erased, running = answers[-1]
    ranges_erased = int(answers[-2])  # `_script`'s delete of the times' ranges
    return RedisErasure(
        jobs=int(jobs),
        frames=int(frames),
        # With the kept images' set, emptied by the settling.
        keys=int(erased) + ranges_erased + (1 if settled else 0),
        failed_image_bytes=freed[0],
        left_running=[job_id.decode() for job_id in running],
    )


def _script(pipe: Any, client_id: str, job_ids: list[str], whole: bool) -> None:
    queue = policy.get_queue()
    (
        pending,
        waiting,
        failed,
        images,
        counts,
        priority,
        latest,
        hint,
        hasty,
        times,
        connections,
        refusals,
        times_range,
    ) = client_keys(client_id)
    pipe.delete(times_range)  # right before the script, whose answer is the transaction's last
    scripts.client_erase(
        pipe,
        pending=pending,
        waiting=waiting,
        failed=failed,
        failed_images=images,
        counts=counts,
        priority=priority,
        latest=latest,
        hint=hint,
        hasty=hasty,
        times=times,
        connections=connections,
        refusals=refusals,
        queue=queue.key,
        scheduled=ScheduledJobRegistry(queue=queue).key,
        failed_registry=FailedJobRegistry(queue=queue).key,
        started=queue.started_job_registry.key,
        backlogged_ring=keys.clients_ring_backlogged(),
        sparse_ring=keys.clients_ring_sparse(),
        ring_turn=keys.clients_ring_turn(),
        clients=keys.clients_index(),
        failed_kinds=keys.FAILED_KINDS,
        client_id=client_id,
        job_template=rq_internals.JOB_TEMPLATE,
        frame_template=keys.FRAME_TEMPLATE,
        kind_template=keys.KIND_TEMPLATE,
        executions_template=rq_internals.EXECUTIONS_TEMPLATE,
        execution_template=rq_internals.EXECUTION_TEMPLATE,
        results_template=rq_internals.RESULTS_TEMPLATE,
        whole=whole,
        job_ids=job_ids,
    )


def _job_ids(connection: redis.Redis, client_id: str) -> set[str]:
    """The client's jobs its own keys name (as the script finds them)."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.client_pending(client_id), 0, -1)
        pipe.lrange(keys.client_waiting(client_id), 0, -1)
        pipe.zrange(keys.client_failed(client_id), 0, -1)
        pipe.zrange(keys.client_failed_images(client_id), 0, -1)
        answers = pipe.execute()
    return {member.decode() for members in answers for member in members}


def _in_registries(connection: redis.Redis, client_id: str) -> set[str]:
    """The client's jobs in the queue and RQ's scheduled and failed registries that its own keys
    may not name (e.g. a job requeued by hand), read in batches of `SWEEP_BATCH`."""
    queue = policy.get_queue()
    found: set[str] = set()
    description = f"frame {client_id}#"
    places: list[tuple[str, Callable[[str, int, int], Any]]] = [
        (queue.key, connection.lrange),
        (ScheduledJobRegistry(queue=queue).key, connection.zrange),
        (FailedJobRegistry(queue=queue).key, connection.zrange),
    ]
    for key, read in places:
        start = 0
        while True:
            batch = [member.decode() for member in read(key, start, start + SWEEP_BATCH - 1)]
            if not batch:
                break
            with connection.pipeline(transaction=False) as pipe:
                for job_id in batch:
                    pipe.hmget(Job.key_for(job_id), ["client", "description"])
                fields = pipe.execute()
            for job_id, (client, text) in zip(batch, fields, strict=True):
                if (client is not None and client.decode() == client_id) or (
                    client is None and text is not None and text.decode().startswith(description)
                ):
                    found.add(job_id)
            start += SWEEP_BATCH
    return found


def _wait_ended(connection: redis.Redis, job_ids: list[str], deadline: float) -> list[str]:
    """Waits until none of `job_ids` holds a live lease in the started registry (its worker has
    ended it, or died), or until `deadline` (monotonic); returns those still running."""
    started = policy.get_queue().started_job_registry.key
    while True:
        members: list[bytes] = connection.zrangebyscore(started, time.time(), "+inf")  # type: ignore[assignment]
        live = {member.decode().partition(":")[0] for member in members}
        running = [job_id for job_id in job_ids if job_id in live]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(POLL_SECONDS)
