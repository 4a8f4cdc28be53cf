"""A worker's job threads, and the few of them kept free for sparse clients under backlog.

Why a reserve: under backlog every thread is busy with backlogged clients' frames, and with an
API whose answers take about as long each time, threads started together end together, so they
free up in bursts one API answer apart, each burst refilled at once from the backlog. A
well-behaved client's frame arriving between two bursts would wait for the next one, up to an
API answer. With a reserve, backlogged frames are started only while more than `reserve`
threads stay free, and a sparse client's frame is started the moment it arrives: the take
script serves sparse clients first, and `SparseWatch` wakes the worker's main loop when one is
waiting (a blocking Redis call on the sparse ring; Redis times out blocking calls only every
100 ms at its default `hz`, so a short timeout could not do it). The reserve holds only while
sparse clients come (`PROCTORING_FAIR_RESERVE_HOLD`): when every client is behind, every thread
serves them. What the reserve buys is in bench/README.md (`fairness.py`).
"""

from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)


def reserve_size(concurrency: int, percent: int) -> int:
    """Threads kept for sparse clients: `percent` of them, at least one from 4 threads on."""
    if percent <= 0 or concurrency < 4:
        return 0
    return max(1, concurrency * percent // 100)


class Slots:
    """How many more jobs this worker may run now (one per job thread)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        self._changed = threading.Condition()
        self._woken = False

    def acquire(self, most: int, timeout: float, keep: int = 0) -> int:
        """Waits up to `timeout` for more than `keep` free slots (or for `wake`, then for one),
        then takes as many free ones as it may."""

        def ready() -> bool:
            return self._free > keep or (self._woken and self._free > 0)

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                return 0
            self._woken = False
            got = min(self._free, most)
            self._free -= got
            return got

    def release(self, count: int = 1) -> None:
        with self._changed:
            self._free += count
            self._changed.notify_all()

    def wake(self) -> None:
        """Lets a waiting `acquire` take the slots it keeps: a sparse client's frame waits."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    @property
    def busy(self) -> int:
        return self.size - self._free


class SparseWatch:
    """A thread that, when asked, blocks on the sparse ring until a client is in it,
    then wakes `slots` (BLMOVE of the list onto itself, head to head, changes nothing)."""

    def __init__(self, connection: redis.Redis, sparse_ring_key: str, slots: Slots) -> None:
        self._connection = connection
        self._sparse_ring_key = sparse_ring_key
        self._slots = slots
        self._asked = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rq-sparse-watch", daemon=True)
        self._thread.start()

    def ask(self) -> None:
        self._asked.set()

    def close(self) -> None:
        self._stopped.set()
        self._asked.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            if not self._asked.wait(timeout=1.0) or self._stopped.is_set():
                continue
            try:
                found = self._connection.blmove(
                    self._sparse_ring_key, self._sparse_ring_key, 1, "LEFT", "LEFT"
                )
            except redis.RedisError as exc:
                # The main loop meets the same Redis and says so; let it try rather than wait.
                log.debug("sparse watch: %s", exc)
                found = b"?"
                time.sleep(0.5)
            if found is not None:
                self._asked.clear()
                self._slots.wake()
