"""The server's clock: a job at each attempt's deadline times it out, with no browser needed.

Each `begin`, `resume` and `extend` schedules `exams.jobs.enforce_deadline` at the attempt's
deadline on the `exams` queue (django-rq's scheduler; `manage.py backgroundworker` runs it),
rounded up to a whole second: RQ keeps a scheduled time in whole seconds rounded down, so a
job for 12.3 s would run at 12 s, before the deadline. The job's id is the attempt's and that
second, so scheduling the same deadline twice makes one job. The job reads the attempt again:
time added or a pause since moves the deadline, and the job schedules itself anew, under a new
id (a paused attempt waits for `resume`, which schedules). Every
deadline job also sweeps for other overdue attempts, and schedules a sweep each minute while
attempts run, so a lost job (Redis down at scheduling time) ends its attempt a minute late at
most; a page or socket that reads the attempt ends it at once (`lifecycle.enforce_deadline`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import django_rq
import redis
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Transition

log = logging.getLogger(__name__)

QUEUE = "exams"
SWEEP_EVERY = 60  # seconds between sweeps while attempts run
SWEEP_BATCH = 500  # overdue attempts timed out per sweep at most (the next sweep takes the rest)
# Actions that start the clock or move its deadline later.
SCHEDULING = (lifecycle.Action.BEGIN, lifecycle.Action.RESUME, lifecycle.Action.EXTEND)


def deadline_job_id(attempt_id: Any, deadline: datetime) -> str:
    return f"exams-deadline-{attempt_id}-{int(deadline.timestamp())}"


def sweep_job_id(at: datetime) -> str:
    return f"exams-sweep-{int(at.timestamp())}"


def due_second(moment: datetime) -> datetime:
    """`moment` rounded up to a whole second."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def schedule(
    attempt: Attempt, now: datetime | None = None, *, not_before: datetime | None = None
) -> str | None:
    """Schedules the deadline job of an attempt in progress (and the next sweep); returns the
    job's id, or None if its clock is not running or Redis could not take the job. `not_before`:
    no earlier than then (a job rescheduling itself: never under its own id, which RQ deletes
    once it has run)."""
    now = now or timezone.now()
    deadline = attempt.deadline(now) if attempt.status == Attempt.Status.IN_PROGRESS else None
    if deadline is None:
        return None
    deadline = due_second(deadline)
    if not_before is not None:
        deadline = max(deadline, due_second(not_before))
    job_id = deadline_job_id(attempt.pk, deadline)
    try:
        queue = django_rq.get_queue(QUEUE)
        # result_ttl=0: a finished job leaves nothing behind, so a repeat (same id) runs again.
        queue.enqueue_at(
            deadline, "exams.jobs.enforce_deadline", str(attempt.pk), job_id=job_id, result_ttl=0
        )
        schedule_sweep(now)
    except redis.RedisError as exc:
        log.warning("could not schedule the deadline of attempt %s (the sweep will): %s", attempt.pk, exc)
        return None
    return job_id


def schedule_sweep(now: datetime) -> str:
    """Schedules a sweep at the next whole minute (one job per minute, however often asked)."""
    at = (now + timedelta(seconds=SWEEP_EVERY)).replace(second=0, microsecond=0)
    job_id = sweep_job_id(at)
    django_rq.get_queue(QUEUE).enqueue_at(at, "exams.jobs.sweep", job_id=job_id, result_ttl=0)
    return job_id


def check(attempt_id: str, now: datetime | None = None) -> str:
    """What the deadline job does: the attempt's status afterwards ("timed_out" if it ended it
    now); reschedules it if its deadline moved later."""
    now = now or timezone.now()
    attempt = Attempt.objects.select_related("exam").filter(pk=attempt_id).first()
    if attempt is None:
        return "gone"
    attempt = lifecycle.enforce_deadline(attempt, now)
    if attempt.status == Attempt.Status.IN_PROGRESS:
        schedule(attempt, now, not_before=now + timedelta(seconds=1))
    return str(attempt.status)


def sweep(now: datetime | None = None) -> int:
    """Times out attempts in progress whose deadline has passed; returns how many. Schedules
    the next sweep while any attempt is in progress."""
    now = now or timezone.now()
    running = Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS).select_related("exam")
    overdue = [a for a in running.iterator() if (deadline := a.deadline(now)) and deadline <= now]
    ended = 0
    for attempt in overdue[:SWEEP_BATCH]:
        if lifecycle.enforce_deadline(attempt, now).status == Attempt.Status.TIMED_OUT:
            ended += 1
    if ended:
        log.info("the sweep timed out %d overdue attempt(s)", ended)
    if running.exists():
        try:
            schedule_sweep(now)
        except redis.RedisError as exc:
            log.warning("could not schedule the next sweep: %s", exc)
    return ended


def on_attempt_changed(sender: Any, attempt: Attempt, transition: Transition, **kwargs: Any) -> None:
    if transition.action in SCHEDULING:
        schedule(attempt)


def connect() -> None:
    lifecycle.attempt_changed.connect(on_attempt_changed, dispatch_uid="exams-clock")
