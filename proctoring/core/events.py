"""Job events: what became of each frame job, told to whoever watches (the admin overview, the
proctor dashboard) over the channel layer, and written to the log.

Events are notices, not records: the counts, the failed registry and the results are the
record. So publishing never delays a job: a job hands its event to this process's publisher
thread and goes on; the thread sends what has gathered as one channel-layer message per batch
(at hundreds of frames a second, one message per frame would cost more than the frames). If
the channel layer is down, events are dropped with a warning, and the jobs are unaffected.

Every event is also one log line (logger `proctoring.core.events`: completed at INFO, stale at
WARNING, failed at ERROR), with the job id and the client, in the process that saw it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

GROUP = "proctoring.jobs"  # the channel-layer group every watcher joins
MESSAGE_TYPE = "job.events"  # handled by a consumer's `job_events` method
COMPLETED, FAILED, STALE = "completed", "failed", "stale"
CONNECTED, DISCONNECTED = "connected", "disconnected"  # a camera's socket (job_id "")
REVIEWED = "reviewed"  # a proctor reviewed or dismissed one of the attempt's incidents (job_id "")
MAX_BATCH = 500
LINGER = 0.05  # seconds a batch waits for more events after its first
_LEVELS = {FAILED: logging.ERROR, STALE: logging.WARNING}
_WARN_EVERY = 30.0  # seconds between warnings while the channel layer is failing


def event(name: str, job_id: str, client_id: str, seq: int | None = None, **details: Any) -> dict[str, Any]:
    """One event as it travels: its name, job id, client, the frame's seq, when, and details
    (`flags` of a completed frame, `error` of a failed one)."""
    return {"event": name, "job_id": job_id, "client_id": client_id, "seq": seq, "at": time.time(), **details}


class Publisher:
    def __init__(self) -> None:
        self._events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._warned_at = 0.0
        self._sinks: list[Callable[[list[dict[str, Any]]], None]] = []

    def add_sink(self, sink: Callable[[list[dict[str, Any]]], None]) -> None:
        """Also hands each batch to `sink` (in the publisher's thread; once per sink): a
        process that may write where this package may not (a worker keeping the last events
        in Redis) plugs in here."""
        if sink not in self._sinks:
            self._sinks.append(sink)

    def remove_sink(self, sink: Callable[[list[dict[str, Any]]], None]) -> None:
        """Stops handing batches to `sink` (a test that built a worker in its own process)."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def publish(self, item: dict[str, Any]) -> None:
        """Logs `item` and queues it for the watchers; never blocks."""
        if item.get("error"):
            details = f": {item['error']}"
        elif item.get("age_s") is not None:
            details = f": {item['age_s']}s old, dropped"
        else:
            details = ""
        log.log(
            _LEVELS.get(item["event"], logging.INFO),
            "job %s %s (client %s #%s)%s",
            item["job_id"],
            item["event"],
            item["client_id"],
            item["seq"],
            details,
        )
        self.send(item)

    def send(self, item: dict[str, Any]) -> None:
        """Queues `item` for the watchers without logging it; never blocks."""
        self._ensure_running()
        self._events.put(item)

    def _ensure_running(self) -> None:
        # A forked process inherits the object but not the thread.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._events = queue.SimpleQueue()
                threading.Thread(target=self._run, name="job-events", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        layer = get_channel_layer()
        while True:
            batch = [self._events.get()]
            # Gather for a moment: at a trickle (frames spread over many workers and threads)
            # each event would otherwise be its own channel-layer send, the costliest part of a
            # frame's CPU on the worker. Watchers see events `LINGER` later at most.
            until = time.monotonic() + LINGER
            while len(batch) < MAX_BATCH:
                left = until - time.monotonic()
                try:
                    batch.append(self._events.get(timeout=left) if left > 0 else self._events.get_nowait())
                except queue.Empty:
                    break
            for sink in list(self._sinks):
                try:
                    sink(batch)
                except Exception as exc:  # notices only, as below
                    log.warning("could not keep %d job event(s): %s", len(batch), exc)
            if layer is None:
                continue
            try:
                loop.run_until_complete(layer.group_send(GROUP, {"type": MESSAGE_TYPE, "events": batch}))
            except Exception as exc:  # notices only: the jobs are done whatever happens here
                now = time.monotonic()
                if now - self._warned_at > _WARN_EVERY:
                    self._warned_at = now
                    log.warning("could not publish %d job event(s): %s", len(batch), exc)


publisher = Publisher()


def publish(name: str, job_id: str, client_id: str, seq: int | None = None, **details: Any) -> None:
    publisher.publish(event(name, job_id, client_id, seq, **details))


async def apublish_connection(layer: Any, name: str, client_id: str) -> None:
    """A camera connected or disconnected (`name`), from the gateway's event loop; never raises
    and never waits. It goes out with the batches of the publisher thread: two hundred cameras
    connecting at once (an exam's start) would otherwise be two hundred channel-layer sends at
    once, past the layer's connection pool (100), and half of the notices lost."""
    log.info("client %s %s", client_id, name)
    if layer is None:
        return
    publisher.send(event(name, "", client_id))


def publish_review(attempt_id: str) -> None:
    """A proctor's review changed an attempt's incidents: the grids showing it re-read its row.
    Not logged here: the audit log records the review itself."""
    publisher.send(event(REVIEWED, "", attempt_id))
