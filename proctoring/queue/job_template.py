"""RQ's writes for a new frame job, recorded once and filled in per frame.

The enqueue script (`proctoring.queue.enqueue`) runs, once a frame is admitted, exactly the commands
RQ's `Queue.enqueue_job` would send for the frame's job. Recording them means building an RQ
`Job`, pickling and compressing its function reference and recording a pipeline: work the
gateway would otherwise repeat for every frame, for commands that differ from frame to frame
only in the job id, two timestamps and the description. So they are recorded once per
configuration, with a marker id, and written into the enqueue script as Lua statements with
those four values left as script arguments: a frame's enqueue then sends a dozen arguments
instead of fifty and the script's hash instead of its text, since packing each command's
arguments is paid on the event loop, per frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rq import Queue
from rq.utils import utcformat

Command = tuple[Any, ...]

MARKER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # looks like our job ids (uuid4().hex), never one
_TIME_FIELDS = ("created_at", "enqueued_at")


class JobTemplate:
    def __init__(self, recorded: Sequence[Command]) -> None:
        self._parts = [(tuple(command), _slots(command)) for command in recorded]

    def commands(self, job_id: str, description: str, now: datetime | None = None) -> list[Command]:
        """The commands for one job, as RQ would send them."""
        stamp = utcformat(now or datetime.now(UTC))
        values = {"time": stamp, "description": description}
        return [
            tuple(
                arg.replace(MARKER, job_id)
                if slots.get(index) == "id"
                else values.get(slots.get(index, ""), arg)
                for index, arg in enumerate(command)
            )
            for command, slots in self._parts
        ]

    def lua(
        self,
        job_id: str,
        stamp: str,
        description: str,
        push: str | None = None,
        named: Mapping[str, str] | None = None,
    ) -> str:
        """The same commands as Lua statements, for a script that is given the job id, RQ's
        timestamp and the description as the Lua expressions `job_id`, `stamp` and
        `description` (e.g. "ARGV[1]"); everything else is a literal in the script. `push`,
        if given, is Lua that replaces RQ's RPUSH of the job onto its queue. `named` maps
        arguments holding the marker id (e.g. `Job.key_for(MARKER)`) to the Lua expression the
        script already has for them (e.g. a key it is given), used instead of building them."""
        values = {"time": stamp, "description": description}
        named = named or {}
        lines = []
        for command, slots in self._parts:
            if push is not None and command[0] == "RPUSH":
                lines.append(push.strip())
                continue
            args = []
            for index, arg in enumerate(command):
                kind = slots.get(index)
                if kind == "id" and arg in named:
                    args.append(named[arg])
                elif kind == "id":
                    before, _, after = str(arg).partition(MARKER)
                    pieces = [lua_literal(before)] if before else []
                    pieces.append(job_id)
                    pieces.extend([lua_literal(after)] if after else [])
                    args.append(" .. ".join(pieces))
                elif kind:
                    args.append(values[kind])
                else:
                    args.append(lua_literal(arg))
            lines.append(f"redis.call({', '.join(args)})")
        return "\n".join(lines)


def _slots(command: Command) -> dict[int, str]:
    """Where one job's own values go in `command`: RQ's timestamps, the description, and every
    argument that holds the marker id."""
    slots: dict[int, str] = {}
    hset = command[0] == "HSET"
    for index, arg in enumerate(command):
        previous = command[index - 1] if index else None
        if hset and index >= 3 and index % 2 == 1 and previous in _TIME_FIELDS:
            slots[index] = "time"
        elif hset and index >= 3 and index % 2 == 1 and previous == "description":
            slots[index] = "description"
        elif isinstance(arg, str) and MARKER in arg:
            slots[index] = "id"
    return slots


def lua_literal(value: Any) -> str:
    """`value` as a Lua string literal holding the bytes redis-py would send for it."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        data = repr(value).encode()
    else:
        raise TypeError(f"cannot send {type(value).__name__} to Redis: {value!r}")
    # Printable ASCII as is, everything else as a three-digit decimal escape (Lua 5.1).
    return '"' + "".join(_LUA_BYTE[byte] for byte in data) + '"'


_LUA_BYTE = [
    chr(byte) if 32 <= byte < 127 and chr(byte) not in '"\\' else f"\\{byte:03d}" for byte in range(256)
]


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
