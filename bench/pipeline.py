"""The pipeline from inside the benchmark process: Django set up on the private stack, attempts
made, frames enqueued through `enqueue_frame`, and what was stored or left behind afterwards.

Django is set up once per process by `setup_django`; every other function needs that first, so
the project's modules are imported inside them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.stack import progress

ENQUEUE_PROGRESS_EVERY = 1000


def setup_django(env: dict[str, str]) -> None:
    """Points this process at the children's Redis, database and API, then sets Django up."""
    import django

    os.environ.update(env)
    django.setup()


def create_attempts(count: int) -> list[str]:
    """One user, one exam and `count` attempts at it; returns their ids (the queue's client ids)."""
    from django.contrib.auth import get_user_model

    from exams.models import Attempt, Exam

    user = get_user_model().objects.create_user("bench-taker")
    exam = Exam.objects.create(slug="bench-exam", title="Benchmark exam")
    return [str(Attempt.objects.create(user=user, exam=exam).pk) for _ in range(count)]


def enqueue_frames(attempts: list[str], data: bytes, count: int) -> list[str]:
    """Queues `count` copies of the frame, round robin over the attempts; returns the job ids."""
    from django.conf import settings

    from proctoring.core.frames import parse_image
    from proctoring.queue.enqueue import enqueue_frame

    frame = parse_image(data, settings.PROCTORING_MAX_FRAME_BYTES)
    job_ids = []
    for index in range(count):
        attempt = attempts[index % len(attempts)]
        job_ids.append(enqueue_frame(attempt, attempt, index // len(attempts) + 1, frame))
        if (index + 1) % ENQUEUE_PROGRESS_EVERY == 0:
            progress(f"queued {index + 1:,}/{count:,}")
    return job_ids


def stored_count() -> int:
    """Frames delivered: results stored, or, when workers store none, frames counted completed."""
    from django.conf import settings
    from django.db import connection

    from proctoring.models import FrameResult
    from proctoring.store import keys
    from proctoring.store.connections import get_redis

    if not settings.PROCTORING_STORE_RESULTS:
        return int(get_redis().hget(keys.totals(), "completed") or 0)
    count = FrameResult.objects.count()
    connection.close()  # a long-lived read transaction would keep the WAL from checkpointing
    return count


def clear_results() -> None:
    from proctoring.models import Finding, FrameResult, Incident
    from proctoring.store import keys
    from proctoring.store.connections import get_redis

    Finding.objects.all().delete()
    Incident.objects.all().delete()
    FrameResult.objects.all().delete()
    get_redis().hdel(keys.totals(), "completed")


def queue_state(attempts: list[str]) -> dict[str, int]:
    """Stored results, and what is left in Redis: queued, started and failed jobs, pending slots."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    from proctoring.queue.policy import QUEUE_NAME
    from proctoring.store import keys
    from proctoring.store.connections import get_redis

    connection = get_redis()
    return {
        "stored": stored_count(),
        "queued": Queue(QUEUE_NAME, connection=connection).count,
        "started": len(StartedJobRegistry(QUEUE_NAME, connection=connection)),
        "failed": len(FailedJobRegistry(QUEUE_NAME, connection=connection)),
        "pending_slots": sum(connection.zcard(keys.client_pending(attempt)) for attempt in attempts),
    }


def settle(attempts: list[str], timeout: float) -> dict[str, Any]:
    """Waits up to `timeout` s for the last jobs to finish their bookkeeping (a result is stored
    before the job frees its slot and leaves the started registry); returns the final state."""
    deadline = time.monotonic() + timeout
    while True:
        state = queue_state(attempts)
        if not (state["queued"] or state["started"] or state["pending_slots"]):
            return state
        if time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def reset_redis_stats() -> None:
    """Zeroes Redis's per-command counts (INFO commandstats) before the workers start."""
    from proctoring.store.connections import get_redis

    get_redis().config_resetstat()


def redis_work() -> tuple[dict[str, int], float]:
    """Redis's calls per command since `reset_redis_stats` (commands run by scripts included,
    MULTI/EXEC too), and the CPU seconds the server has used since it started."""
    from proctoring.store.connections import get_redis

    connection = get_redis()
    stats: dict[str, Any] = connection.info("commandstats")
    cpu: dict[str, Any] = connection.info("cpu")
    calls = {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
