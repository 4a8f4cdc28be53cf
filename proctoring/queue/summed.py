"""A batch of delivered frames' shared bookkeeping, added up before it is written.

Each delivered frame counts itself completed this minute and in the totals, closes the API's
failure count, and sets or clears its client's hint and refusals: a dozen commands a frame, most
of them on the same few keys. Within `summed(pipe)` (a batch of successes, one MULTI/EXEC),
those writes go to one `Sums` instead, written as the block ends: one HINCRBY per key and field
touched, one EXPIRE per key, and per replaced key only its last SET or DEL, however many frames
the batch holds. Outside a batch, `summed(pipe)` writes them at once, so each caller uses it the
same way (like `freshness.tallied`, for the frames' times).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_DELETE = object()


class Sums:
    """Pipeline-shaped (`hincrby`, `expire`, `set`, `delete`) for writes whose order within one
    transaction does not matter: counters are added up, a key's TTL is its last one, and a key
    set or deleted keeps only its last command. A key is either counted or replaced, never both
    (that would depend on order; it raises)."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {}
        self._ttls: dict[str, int] = {}
        self._replaced: dict[str, tuple[Any, int | None] | object] = {}

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        if key in self._replaced:
            raise ValueError(f"{key!r} is both counted and replaced in one batch")
        fields = self._counts.setdefault(key, {})
        fields[field] = fields.get(field, 0) + amount

    def expire(self, key: str, seconds: int) -> None:
        if key in self._replaced:
            raise ValueError(f"{key!r} is both counted and replaced in one batch")
        self._ttls[key] = seconds

    def set(self, key: str, value: Any, ex: int | None = None) -> None:
        self._replace(key, (value, ex))

    def delete(self, *names: str) -> None:
        for key in names:
            self._replace(key, _DELETE)

    def _replace(self, key: str, how: tuple[Any, int | None] | object) -> None:
        if key in self._counts or key in self._ttls:
            raise ValueError(f"{key!r} is both counted and replaced in one batch")
        self._replaced.pop(key, None)  # re-inserted: the last command decides, in its order
        self._replaced[key] = how

    def write(self, pipe: Any) -> None:
        for key, fields in self._counts.items():
            for field, amount in fields.items():
                pipe.hincrby(key, field, amount)
        for key, seconds in self._ttls.items():
            pipe.expire(key, seconds)
        deleted = [key for key, how in self._replaced.items() if how is _DELETE]
        if deleted:
            pipe.delete(*deleted)
        for key, how in self._replaced.items():
            if isinstance(how, tuple):
                pipe.set(key, how[0], ex=how[1])


# The pipeline whose writes go to one `Sums` (`summed`), per thread.
_open = threading.local()


@contextmanager
def summed(pipe: Any) -> Iterator[Sums]:
    """A `Sums` for `pipe`: inside an enclosing `summed(pipe)` of the same pipeline (a batch),
    that one, written when the batch's block ends; else a new one, written to `pipe` as this
    block ends without an error."""
    opened: tuple[Any, Sums] | None = getattr(_open, "batch", None)
    if opened is not None and opened[0] is pipe:
        yield opened[1]
        return
    sums = Sums()
    outer = opened
    _open.batch = (pipe, sums)
    try:
        yield sums
    finally:
        _open.batch = outer
    sums.write(pipe)
