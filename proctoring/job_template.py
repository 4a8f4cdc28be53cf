"""RQ's writes for a new frame job, recorded once and filled in per frame.

The enqueue script (`proctoring.queues`) runs, once a frame is admitted, exactly the commands
RQ's `Queue.enqueue_job` would send for the frame's job. Recording them means building an RQ
`Job`, pickling and compressing its function reference and recording a pipeline: about a tenth
of the gateway's CPU per frame, for commands that differ from frame to frame only in the job id,
two timestamps and the description. So they are recorded once per configuration, with a marker
id, and each frame gets a copy with its own id, times and description.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rq import Queue
from rq.utils import utcformat

Command = tuple[Any, ...]

MARKER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # looks like our job ids (uuid4().hex), never one
_TIME_FIELDS = ("created_at", "enqueued_at")


class JobTemplate:
    def __init__(self, recorded: Sequence[Command]) -> None:
        self._build = [_filler(command) for command in recorded]

    def commands(self, job_id: str, description: str, now: datetime | None = None) -> list[Command]:
        stamp = utcformat(now or datetime.now(UTC))
        return [build(job_id, description, stamp) for build in self._build]


def _filler(command: Command) -> Callable[[str, str, str], Command]:
    """A function giving `command` for one job: the marker id replaced by the job's, the
    description and RQ's timestamps by the job's own."""
    fixed: list[Any] = list(command)
    slots: list[tuple[int, str]] = []  # (position, what goes there)
    for index, arg in enumerate(fixed):
        previous = fixed[index - 1] if index else None
        if fixed[0] == "HSET" and index >= 3 and index % 2 == 1 and previous in _TIME_FIELDS:
            slots.append((index, "time"))
        elif fixed[0] == "HSET" and index >= 3 and index % 2 == 1 and previous == "description":
            slots.append((index, "description"))
        elif isinstance(arg, str) and MARKER in arg:
            slots.append((index, "id"))

    def build(job_id: str, description: str, stamp: str) -> Command:
        if not slots:
            return command
        args = list(fixed)
        for index, what in slots:
            if what == "time":
                args[index] = stamp
            elif what == "description":
                args[index] = description
            else:
                args[index] = fixed[index].replace(MARKER, job_id)
        return tuple(args)

    return build


_lock = threading.Lock()
_templates: dict[Any, JobTemplate] = {}


def cached(key: Any, record: Callable[[str], Sequence[Command]]) -> JobTemplate:
    """The template for `key` (everything the recorded job depends on), recorded on first use
    by `record(MARKER)`."""
    template = _templates.get(key)
    if template is None:
        with _lock:
            template = _templates.get(key)
            if template is None:
                template = JobTemplate(record(MARKER))
                _templates[key] = template
    return template


def queue_fingerprint(queue: Queue) -> tuple[Any, ...]:
    return (id(queue.connection), queue.name, queue.redis_server_version, type(queue.serializer).__name__)
