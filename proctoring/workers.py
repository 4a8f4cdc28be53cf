"""The queue and worker classes behind `rqworker proctoring`: RQ's, with retries on time.

RQ stores a retry's due time in whole seconds (rounded down) and its scheduler looks once a
second, so a "2 s" retry runs anywhere from 1 to 3 s later. We round the due time to the nearest
second and look four times a second: a retry runs within about half a second of its backoff.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django_rq.queues import DjangoRQ
from rq import Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.scheduler import RQScheduler


class ProctoringQueue(DjangoRQ):
    def schedule_job(self, job: Job, datetime: datetime, pipeline: Any = None, unique: bool = False) -> Job:
        # RQ truncates to whole seconds; adding half a second makes that a rounding to nearest.
        scheduled: Job = super().schedule_job(job, datetime + timedelta(seconds=0.5), pipeline, unique)
        return scheduled


class ProctoringScheduler(RQScheduler):
    """RQ's scheduler, polling every `tick` seconds instead of every second.

    `interval` stays 1: RQ derives its lock TTLs from it and Redis wants whole seconds there.
    """

    tick = 0.25

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        while True:
            if self._stop_requested:
                self.stop()
                break
            if self.should_reacquire_locks:
                self.acquire_locks()
            self.heartbeat()
            self.enqueue_scheduled_jobs()
            time.sleep(self.tick)


class ProctoringWorker(Worker):
    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own `_start_scheduler` (rq 3.0), with our scheduler class."""
        self.scheduler = ProctoringScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()
