"""The attempt state machine (`exams.lifecycle`) as plain function calls: every action from every
state, allowed or refused, the clock's arithmetic, scoring at submit, and the signal after commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from exams import lifecycle
from exams.lifecycle import Action, TransitionRefused
from exams.models import Answer, Attempt, Choice, Question, Transition

pytestmark = pytest.mark.django_db

S = Attempt.Status
ALL_STATES = list(S)
ALL_ACTIONS = [
    Action.BEGIN,
    Action.PAUSE,
    Action.RESUME,
    Action.EXTEND,
    Action.SUBMIT,
    Action.TIME_OUT,
    Action.TERMINATE,
]
ALLOWED = {
    (S.STARTED, Action.BEGIN): S.IN_PROGRESS,
    (S.STARTED, Action.EXTEND): S.STARTED,
    (S.STARTED, Action.TERMINATE): S.TERMINATED,
    (S.IN_PROGRESS, Action.PAUSE): S.PAUSED,
    (S.IN_PROGRESS, Action.EXTEND): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.SUBMIT): S.SUBMITTED,
    (S.IN_PROGRESS, Action.TIME_OUT): S.TIMED_OUT,
    (S.IN_PROGRESS, Action.TERMINATE): S.TERMINATED,
    (S.PAUSED, Action.RESUME): S.IN_PROGRESS,
    (S.PAUSED, Action.EXTEND): S.PAUSED,
    (S.PAUSED, Action.TERMINATE): S.TERMINATED,
}


def in_state(user: Any, exam: Any, status: str) -> Attempt:
    now = timezone.now()
    attempt = Attempt.objects.create(user=user, exam=exam, status=status, time_limit_seconds=3600)
    if status != S.STARTED:
        attempt.consented_at = now
    if status == S.PAUSED:
        attempt.paused_at = now
    if status in Attempt.ENDED:
        attempt.ended_at = now
    attempt.save()
    return attempt


@pytest.mark.parametrize("status", ALL_STATES)
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_every_action_from_every_state_is_allowed_or_refused_as_the_table_says(user, exam, status, action):
    attempt = in_state(user, exam, status)
    extra = 60 if action == Action.EXTEND else 0
    if (status, action) in ALLOWED:
        outcome = lifecycle.apply(attempt, action, by=user, reason="because", extra_seconds=extra)
        assert outcome.attempt.status == ALLOWED[(status, action)]
        assert (outcome.transition.from_status, outcome.transition.to_status) == (
            status,
            outcome.attempt.status,
        )
        assert outcome.transition.by == user and outcome.transition.reason == "because"
        assert (outcome.attempt.ended_at is not None) == (outcome.attempt.status in Attempt.ENDED)
    else:
        with pytest.raises(TransitionRefused):
            lifecycle.apply(attempt, action, by=user, extra_seconds=extra)
        attempt.refresh_from_db()
        assert attempt.status == status
        assert not Transition.objects.filter(attempt=attempt).exists()
    assert lifecycle.allowed(status, action) == ((status, action) in ALLOWED)


def test_an_unknown_action_and_out_of_bounds_extra_time_are_refused(attempt):
    with pytest.raises(TransitionRefused, match="unknown"):
        lifecycle.apply(attempt, "explode")
    for extra in (0, -5, lifecycle.MAX_EXTRA_SECONDS + 1):
        with pytest.raises(TransitionRefused, match="extra time"):
            lifecycle.apply(attempt, Action.EXTEND, extra_seconds=extra)


def test_the_deadline_is_start_plus_limit_plus_extra_minus_paused(user, exam):
    exam.duration_minutes = 30
    exam.save()
    attempt = Attempt.objects.create(user=user, exam=exam)
    t0 = timezone.now()
    attempt = lifecycle.apply(attempt, Action.BEGIN, now=t0).attempt
    assert attempt.deadline(t0) == t0 + timedelta(minutes=30)
    attempt = lifecycle.apply(attempt, Action.PAUSE, now=t0 + timedelta(minutes=5)).attempt
    # While paused the time left stays where the pause found it.
    assert attempt.seconds_left(t0 + timedelta(minutes=5)) == 25 * 60
    assert attempt.seconds_left(t0 + timedelta(minutes=9)) == 25 * 60
    attempt = lifecycle.apply(attempt, Action.RESUME, now=t0 + timedelta(minutes=10)).attempt
    attempt = lifecycle.apply(
        attempt, Action.EXTEND, extra_seconds=120, now=t0 + timedelta(minutes=11)
    ).attempt
    assert attempt.paused_seconds == 300
    assert attempt.deadline(t0 + timedelta(minutes=11)) == t0 + timedelta(minutes=30 + 5 + 2)
    exam.closes_at = t0 + timedelta(minutes=20)
    exam.save()
    attempt.refresh_from_db()
    assert attempt.deadline(t0) == exam.closes_at  # the window's close ends it first


def test_enforce_deadline_times_out_an_overdue_attempt_only(user, exam):
    attempt = lifecycle.apply(Attempt.objects.create(user=user, exam=exam), Action.BEGIN).attempt
    assert lifecycle.enforce_deadline(attempt).status == S.IN_PROGRESS
    later = timezone.now() + timedelta(minutes=exam.duration_minutes, seconds=1)
    paused = lifecycle.apply(attempt, Action.PAUSE).attempt
    assert lifecycle.enforce_deadline(paused, now=later).status == S.PAUSED  # a paused clock stands still
    running = lifecycle.apply(paused, Action.RESUME).attempt
    ended = lifecycle.enforce_deadline(running, now=later + timedelta(seconds=5))
    assert ended.status == S.TIMED_OUT and ended.ended_at is not None
    last = ended.transitions.last()
    assert last is not None and last.by is None  # the server did it


def test_submit_scores_choice_questions_exactly_and_leaves_text_to_a_person(user, exam):
    single = Question.objects.create(exam=exam, kind=Question.Kind.SINGLE, prompt="2+2?", points=2)
    right = Choice.objects.create(question=single, text="4", is_correct=True)
    Choice.objects.create(question=single, text="5")
    multiple = Question.objects.create(exam=exam, kind=Question.Kind.MULTIPLE, prompt="Primes?", points=3)
    two = Choice.objects.create(question=multiple, text="2", is_correct=True)
    Choice.objects.create(question=multiple, text="3", is_correct=True)
    Question.objects.create(exam=exam, kind=Question.Kind.TEXT, prompt="Why?", points=5)
    attempt = lifecycle.apply(Attempt.objects.create(user=user, exam=exam), Action.BEGIN).attempt
    Answer.objects.create(attempt=attempt, question=single).choices.set([right])
    Answer.objects.create(attempt=attempt, question=multiple).choices.set([two])  # one of two: no points
    submitted = lifecycle.apply(attempt, Action.SUBMIT, by=user).attempt
    assert (submitted.score, submitted.max_score) == (Decimal(2), Decimal(5))
    assert Answer.objects.get(attempt=attempt, question=multiple).points == 0


def test_the_signal_is_sent_after_commit_with_the_new_state(attempt, django_capture_on_commit_callbacks):
    heard: list[tuple[str, str]] = []

    def listener(sender: Any, attempt: Attempt, transition: Transition, **kwargs: Any) -> None:
        heard.append((attempt.status, transition.action))

    lifecycle.attempt_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.apply(attempt, Action.TERMINATE, reason="seen a phone")
            assert heard == []  # not before the commit
        assert heard == [(S.TERMINATED, Action.TERMINATE)]
    finally:
        lifecycle.attempt_changed.disconnect(listener)
