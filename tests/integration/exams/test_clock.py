"""The server's clock as plain functions over the real Redis and database: which deadline job a
change schedules, what the job does when it runs early, late or on time, and the sweep."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from exams import clock, lifecycle
from exams.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

A = lifecycle.Action


@pytest.fixture
def running(attempt: Attempt) -> Attempt:
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    return lifecycle.apply(attempt, A.BEGIN).attempt


def scheduled() -> dict[str, float]:
    queue = django_rq.get_queue(clock.QUEUE)
    registry = ScheduledJobRegistry(queue=queue)
    return {job_id: registry.get_scheduled_time(job_id).timestamp() for job_id in registry.get_job_ids()}


def test_begin_schedules_one_job_at_the_deadline_and_extend_moves_it(running):
    deadline = running.deadline(timezone.now())
    assert deadline is not None
    jobs = scheduled()
    own = clock.deadline_job_id(running.pk, clock.due_second(deadline))
    # Never before the deadline: RQ runs a job at its whole second, so that second is rounded up.
    assert jobs[own] == int(clock.due_second(deadline).timestamp()) >= deadline.timestamp()
    assert any(job_id.startswith("exams-sweep-") for job_id in jobs), "and a sweep within a minute"
    clock.schedule(running)  # again: the same job, not a second one
    assert len(scheduled()) == len(jobs)
    extended = lifecycle.apply(running, A.EXTEND, extra_seconds=600).attempt
    moved = extended.deadline(timezone.now())
    assert moved is not None
    later = clock.deadline_job_id(running.pk, clock.due_second(moved))
    assert later in scheduled() and scheduled()[later] == pytest.approx(jobs[own] + 600, abs=1)


def test_the_job_times_out_a_due_attempt_and_reschedules_one_given_more_time(running):
    now = timezone.now()
    assert clock.check(str(running.pk), now) == "in_progress", "early (extra time was given)"
    assert clock.check(str(running.pk), now + timedelta(hours=2)) == "timed_out"
    running.refresh_from_db()
    assert running.status == Attempt.Status.TIMED_OUT and running.end_reason == "the time limit was reached"


def test_a_job_run_before_its_deadline_reschedules_itself_under_another_id(running):
    # The job for second S runs at S; a deadline at S + 0.4 (a clock a little behind, say) is
    # not due yet: the job must come back, not under its own id, which RQ deletes once it ran.
    deadline = running.deadline(timezone.now())
    assert deadline is not None
    early = deadline - timedelta(milliseconds=400)
    assert clock.check(str(running.pk), early) == "in_progress"
    again = clock.deadline_job_id(running.pk, clock.due_second(early + timedelta(seconds=1)))
    assert again in scheduled()
    assert again != clock.deadline_job_id(running.pk, early.replace(microsecond=0))


def test_the_job_leaves_a_paused_attempt_to_its_resume(running):
    lifecycle.apply(running, A.PAUSE)
    assert clock.check(str(running.pk), timezone.now() + timedelta(hours=2)) == "paused"


def test_the_sweep_ends_every_overdue_attempt_in_progress_and_only_those(running, exam, user):
    overdue = lifecycle.apply(Attempt.objects.create(user=user, exam=exam), A.BEGIN).attempt
    Attempt.objects.filter(pk=overdue.pk).update(consented_at=timezone.now() - timedelta(hours=2))
    assert clock.sweep() == 1
    assert Attempt.objects.get(pk=overdue.pk).status == Attempt.Status.TIMED_OUT
    assert Attempt.objects.get(pk=running.pk).status == Attempt.Status.IN_PROGRESS
