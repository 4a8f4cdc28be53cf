"""The Lua scripts in proctoring/store/scripts/: each read once, its includes resolved, and run
by SHA (EVALSHA) on any synchronous or asyncio Redis client or pipeline.

A script pulls in shared pieces with a line `--- @include "includes/<name>.lua"` (a path from
the including file's folder; each piece once per script, however often it is asked for), and
may leave a line `--- @generated <part>` for Lua that Python makes at run time (the enqueue's
RQ job writes), given to `script(name, part=...)`. The typed calls are in
`proctoring.store.scripts`.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import redis
import redis.asyncio
from redis.commands.core import AsyncScript
from redis.commands.core import Script as SyncScript

SCRIPTS_DIR = Path(__file__).with_name("scripts")
INCLUDE = re.compile(r'^--- @include "([^"]+)"[ \t]*$', re.MULTILINE)
GENERATED = re.compile(r"^--- @generated (\w+)[ \t]*$", re.MULTILINE)


class Script:
    """One script, its text made on first use; called as `script(client, keys, args)`.

    redis-py's `Script` runs it: EVALSHA, and on NOSCRIPT (a Redis restarted or failed over) the
    text is loaded and the call made again; on a pipeline, the pipeline loads any script Redis
    lacks before it runs. Its registered client is only ever used to encode a text given as
    str, so one instance serves every client of its kind, given as `client`.
    """

    def __init__(self, name: str, generated: dict[str, str]) -> None:
        self.name = name
        self._generated = generated
        self._sync: SyncScript | None = None
        self._async: AsyncScript | None = None

    @property
    def text(self) -> str:
        return render(self.name, self._generated)

    def __call__(
        self, client: redis.Redis | redis.asyncio.Redis, keys: Sequence[Any], args: Sequence[Any]
    ) -> Any:
        """EVALSHA on `client` (a pipeline queues it); on an asyncio client, an awaitable."""
        if isinstance(client, redis.asyncio.Redis):
            runner = self._async or self._load()[1]
            return runner(keys, args, client)
        return (self._sync or self._load()[0])(keys, args, client)

    def _load(self) -> tuple[SyncScript, AsyncScript]:
        text = self.text.encode()  # bytes: redis-py needs no client's encoder to hash them
        self._sync = SyncScript(cast(Any, None), text)
        self._async = AsyncScript(cast(Any, None), text)
        return self._sync, self._async


_lock = threading.Lock()
_scripts: dict[tuple[str, ...], Script] = {}


def script(name: str, **generated: str) -> Script:
    """The script in file `name` (e.g. "take.lua"), its `--- @generated` parts filled from
    `generated`: one object per file and parts, made once."""
    key = (name, *generated.values()) if generated else (name,)
    found = _scripts.get(key)
    if found is None:
        with _lock:
            found = _scripts.setdefault(key, Script(name, dict(generated)))
    return found


def render(name: str, generated: dict[str, str]) -> str:
    """The text of script `name`, its includes resolved and its generated parts filled.

    Raises:
        ValueError: a generated part is missing or not in the script.
    """
    text = source(name)
    wanted = set(GENERATED.findall(text))
    if wanted != set(generated):
        raise ValueError(f"{name} has generated parts {sorted(wanted)}, got {sorted(generated)}")
    return GENERATED.sub(lambda match: generated[match.group(1)], text)


@functools.cache
def source(name: str) -> str:
    """The text of script `name` with its includes resolved, its generated parts left as they
    are (read once).

    Raises:
        FileNotFoundError: the script or one of its includes does not exist.
    """
    return _resolve(SCRIPTS_DIR / name, set())


def _resolve(path: Path, included: set[Path]) -> str:
    def include(match: re.Match[str]) -> str:
        target = (path.parent / match.group(1)).resolve()
        if target in included:
            return ""
        included.add(target)
        return _resolve(target, included)

    return INCLUDE.sub(include, path.read_text(encoding="utf-8"))
