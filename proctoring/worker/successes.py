"""Recording frame jobs' successes in batches: one MULTI/EXEC per batch of successes.

What is written is what RQ's own success handling writes for a job kept 0 s, in the same keys
and shapes, so RQ's registries and django-rq's pages see what they would with RQ's worker. Only
the success of a job this project enqueues (a frame job: result kept 0 s, no callback,
dependents, repeats, webhooks, group or rate limit) takes the batched path; every other outcome
goes through RQ's own code.
"""

from __future__ import annotations

import logging
import queue as queue_module
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from rq.executions import Execution
from rq.job import Job
from rq.results import Result

from proctoring.queue import freshness, policy, summed
from proctoring.store import keys, rq_internals
from proctoring.worker.job_context import Write

log = logging.getLogger(__name__)

WAIT_TIMEOUT = 120.0  # seconds a non-batching worker waits for what a job's success waits on


def is_batchable(job: Job, return_value: Any) -> bool:
    """Whether a finished job's success needs nothing of RQ's but deleting its records."""
    return (
        return_value is None
        and job.func_name == policy.FRAME_JOB
        and job.result_ttl == 0
        and job.success_callback is None
        and not job.webhooks
        and job.repeats_left is None
        and not job.group_id
        and not job.has_rate_limit
        and not rq_internals.has_dependencies(job)
    )


@dataclass
class Succeeded:
    job: Job
    execution: Execution
    started_registry_key: str
    writes: list[Write] = field(default_factory=list)


def delivered_something(writes: list[Write]) -> bool:
    """Whether a frame job that ended without an error delivered its frame: a delivered frame's
    bookkeeping (`outcomes.finish_delivered`) is written with its success; a frame dropped
    unsent (expired) has written its own already and leaves nothing to write."""
    return bool(writes)


class Finisher:
    """Commits successes in batches from one thread: a job's thread hands its success over and
    goes on to the next job; the records go in one MULTI/EXEC per batch.

    If Redis cannot be reached, a batch is tried again with backoff; a batch still not written
    when the worker stops leaves its jobs in the started registry, where RQ's cleanup finds them
    abandoned and retries them (the API sees the same idempotency key again): never lost.
    """

    MAX_BATCH = 256

    def __init__(
        self,
        connection: redis.Redis,
        worker_key: str,
        on_commit: Callable[[list[Succeeded]], None] | None = None,
    ) -> None:
        self.connection = connection
        self.worker_key = worker_key
        self.on_commit = on_commit
        self.completed = 0
        self._items: queue_module.SimpleQueue[Succeeded | None] = queue_module.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rq-finisher", daemon=True)
        self._thread.start()

    def add(self, item: Succeeded) -> None:
        self._items.put(item)

    def add_when(
        self, item: Succeeded, waits: list[Future[Any]], on_failure: Callable[[BaseException], None]
    ) -> None:
        """Records `item` once every one of `waits` has succeeded; if one fails, its success is
        never recorded and `on_failure` gets the error (the job fails, and is retried, as if
        it had raised it)."""
        if not waits:
            self.add(item)
            return
        left = [len(waits)]
        lock = threading.Lock()

        def done(future: Future[Any]) -> None:
            error = future.exception()
            if error is not None:
                with lock:
                    first = left[0] > 0
                    left[0] = 0
                if first:
                    on_failure(error)
                return
            with lock:
                if left[0] == 0:
                    return  # another wait failed
                left[0] -= 1
                ready = left[0] == 0
            if ready:
                self.add(item)

        for future in waits:
            future.add_done_callback(done)

    def close(self, timeout: float = 30.0) -> None:
        """Writes what is pending, then stops."""
        self._items.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._items.get()
            batch: list[Succeeded] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._items.get_nowait()
                except queue_module.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch:
                self._commit(batch, give_up_after=5 if stopping else None)

    def _commit(self, batch: list[Succeeded], give_up_after: int | None) -> None:
        delay = 0.1
        tries = 0
        while True:
            tries += 1
            try:
                with self.connection.pipeline(transaction=True) as pipe:
                    # The batch's frame times, counts and clients' flags: per batch or per
                    # client, not per frame.
                    with freshness.tallied(pipe), summed.summed(pipe):
                        for item in batch:
                            _write_success(pipe, item)
                    pipe.hincrby(self.worker_key, "successful_job_count", len(batch))
                    delivered = sum(1 for item in batch if delivered_something(item.writes))
                    pipe.hincrby(self.worker_key, keys.WORKER_DELIVERED, delivered)
                    pipe.hincrby(self.worker_key, keys.WORKER_DROPPED, len(batch) - delivered)
                    pipe.hincrbyfloat(self.worker_key, "total_working_time", _working_seconds(batch))
                    pipe.execute()
                self.completed += len(batch)
                if self.on_commit is not None:
                    self.on_commit(batch)
                return
            except redis.RedisError as exc:
                if give_up_after is not None and tries >= give_up_after:
                    log.error(
                        "could not record %d finished job(s) (%s); RQ's cleanup will find them "
                        "abandoned and run them again: %s",
                        len(batch),
                        exc,
                        ", ".join(item.job.id for item in batch),
                    )
                    return
                log.warning(
                    "recording %d finished job(s) failed (%s); trying again in %.1fs", len(batch), exc, delay
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def _write_success(pipe: Any, item: Succeeded) -> None:
    """What RQ's success handling writes for a job kept 0 s: the job and its execution records go."""
    job, execution = item.job, item.execution
    for write in item.writes:
        write(pipe)
    pipe.delete(
        job.key,
        job.dependents_key,
        job.dependencies_key,
        Result.get_key(job.id),
        execution.key,
        rq_internals.executions_registry_key(job.id),
    )
    pipe.zrem(item.started_registry_key, execution.composite_key)
    pipe.srem(execution.worker_executions_key, execution.composite_key)


def _working_seconds(batch: list[Succeeded]) -> float:
    total = timedelta()
    for item in batch:
        if item.job.started_at and item.job.ended_at:
            total += item.job.ended_at - item.job.started_at
    return total.total_seconds()
