"""What the exam page reads of its attempt (the state endpoint, the page as rendered), submitting,
proctor messages marked read, and the exam list's refusals (window, enrolment)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, Exam, ProctorMessage, Question
from tests.integration.exams.test_answer_saves import correct, save

pytestmark = pytest.mark.django_db


def state(client: Any, attempt: Attempt) -> dict[str, Any]:
    response = client.get(f"/attempts/{attempt.pk}/state/")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    data: dict[str, Any] = response.json()
    return data


# --- the state endpoint -------------------------------------------------------------------------


def test_the_state_of_a_running_attempt_has_its_time_left_and_unread_messages(client, user, running):
    read = ProctorMessage.objects.create(attempt=running, body="old", read_at=timezone.now())
    unread = ProctorMessage.objects.create(attempt=running, body="Please look at the screen")
    client.force_login(user)
    data = state(client, running)
    assert data["status"] == "in_progress" and data["ended"] is False
    assert 60 * 60 - 30 < data["seconds_left"] <= 60 * 60
    assert [m["id"] for m in data["messages"]] == [unread.pk] != [read.pk]
    assert data["messages"][0]["body"] == "Please look at the screen"


def test_the_state_shows_a_pause_with_its_reason_and_extra_time(client, user, running):
    lifecycle.apply(running, lifecycle.Action.EXTEND, extra_seconds=600)
    lifecycle.apply(running, lifecycle.Action.PAUSE, reason="check the room")
    client.force_login(user)
    data = state(client, running)
    assert (data["status"], data["reason"], data["extra_seconds"]) == ("paused", "check the room", 600)
    assert 70 * 60 - 30 < data["seconds_left"] <= 70 * 60


def test_reading_the_state_after_the_deadline_times_the_attempt_out(client, user, running):
    Attempt.objects.filter(pk=running.pk).update(consented_at=timezone.now() - timedelta(hours=2))
    client.force_login(user)
    data = state(client, running)
    assert (data["status"], data["ended"], data["seconds_left"]) == ("timed_out", True, None)
    assert data["reason"] == "the time limit was reached"
    assert Attempt.objects.get(pk=running.pk).status == "timed_out"


def test_the_page_after_the_deadline_shows_the_outcome_and_no_questions(client, user, running):
    Attempt.objects.filter(pk=running.pk).update(consented_at=timezone.now() - timedelta(hours=2))
    client.force_login(user)
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert "The time ran out: your saved answers were submitted." in page
    assert 'id="questions"' not in page


def test_another_users_state_is_404(client, running):
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    client.force_login(other)
    assert client.get(f"/attempts/{running.pk}/state/").status_code == 404


# --- the page as rendered ---------------------------------------------------------------------


def test_questions_are_shown_only_once_agreed_and_hidden_while_paused(client, user, exam, questions):
    client.force_login(user)
    attempt = Attempt.objects.create(user=user, exam=exam)
    assert questions["single"].prompt not in client.get(f"/attempts/{attempt.pk}/").content.decode()
    client.post(f"/attempts/{attempt.pk}/consent/")
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert questions["single"].prompt in page
    assert '<section id="questions" class="questions" aria-labelledby="questions-title" >' in page
    lifecycle.apply(attempt, lifecycle.Action.PAUSE)
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert '<section id="questions" class="questions" aria-labelledby="questions-title" hidden>' in page
    assert 'id="paused-notice" class="card paused-notice" role="status" >' in page


def test_choice_questions_are_fieldsets_with_a_legend_and_text_questions_have_a_label(
    client, user, running, questions
):
    client.force_login(user)
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert page.count("<fieldset") == 2 and page.count("<legend>") == 2
    assert f'<label for="q{questions["text"].pk}-text">' in page


# --- submitting ---------------------------------------------------------------------------------


def test_submitting_ends_the_attempt_scores_it_and_shows_the_outcome(client, user, running, questions):
    client.force_login(user)
    save(client, running, questions["single"], choices=correct(questions["single"]))
    save(client, running, questions["multiple"], choices=correct(questions["multiple"])[:1])
    response = client.post(f"/attempts/{running.pk}/submit/")
    assert response.status_code == 302 and response["Location"] == f"/attempts/{running.pk}/"
    running.refresh_from_db()
    assert (running.status, running.score, running.max_score) == ("submitted", Decimal(1), Decimal(3))
    transition = running.transitions.get(action=lifecycle.Action.SUBMIT)
    assert transition.by == user
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert "You submitted your answers." in page
    assert "Score for the choice questions: 1 of 3 points." in page
    data = state(client, running)
    assert (data["status"], data["score"], data["max_score"]) == ("submitted", 1.0, 3.0)


def test_submitting_while_paused_is_refused_with_a_message(client, user, running):
    lifecycle.apply(running, lifecycle.Action.PAUSE)
    client.force_login(user)
    client.post(f"/attempts/{running.pk}/submit/")
    assert Attempt.objects.get(pk=running.pk).status == "paused"
    assert "was not submitted" in client.get(f"/attempts/{running.pk}/").content.decode()


def test_no_one_submits_another_users_attempt_or_without_csrf(user, running):
    other = Client()
    other.force_login(get_user_model().objects.create_user("other", password="other-pass-123"))
    assert other.post(f"/attempts/{running.pk}/submit/").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/attempts/{running.pk}/submit/").status_code == 403
    assert Attempt.objects.get(pk=running.pk).status == "in_progress"


# --- proctor messages ---------------------------------------------------------------------------


def test_the_candidate_marks_a_message_read_once(client, user, running):
    message = ProctorMessage.objects.create(attempt=running, body="Hello")
    client.force_login(user)
    url = f"/attempts/{running.pk}/messages/{message.pk}/read/"
    assert client.get(url).status_code == 405
    assert client.post(url, "{}", content_type="application/json").status_code == 200
    message.refresh_from_db()
    first = message.read_at
    assert first is not None
    client.post(url, "{}", content_type="application/json")
    message.refresh_from_db()
    assert message.read_at == first
    assert state(client, running)["messages"] == []


def test_no_one_marks_another_attempts_message_read(client, user, running, exam):
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    theirs = Attempt.objects.create(user=other, exam=Exam.objects.create(slug="o", title="O"))
    message = ProctorMessage.objects.create(attempt=theirs, body="Not for you")
    client.force_login(user)
    # Through the user's own attempt, a message of another attempt is not found.
    assert client.post(f"/attempts/{running.pk}/messages/{message.pk}/read/").status_code == 404
    assert client.post(f"/attempts/{theirs.pk}/messages/{message.pk}/read/").status_code == 404
    message.refresh_from_db()
    assert message.read_at is None


# --- the exam list --------------------------------------------------------------------------------


def test_the_list_shows_the_time_limit_and_the_window(client, user, exam):
    exam.duration_minutes = 45
    exam.closes_at = timezone.now() + timedelta(days=1)
    exam.save()
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Time limit: 45 minutes" in page
    assert f"until {exam.closes_at:%Y-%m-%d %H:%M} UTC" in page
    assert "Start exam" in page


def test_the_list_says_why_an_exam_not_yet_open_cannot_be_started(client, user, exam):
    exam.opens_at = timezone.now() + timedelta(hours=3)
    exam.save()
    client.force_login(user)
    page = client.get("/").content.decode()
    opens = f"{exam.opens_at:%Y-%m-%d %H:%M}"
    assert f"You cannot start this exam: exam &#x27;algebra&#x27; opens at {opens} UTC" in page
    assert "Start exam" not in page


def test_the_list_says_a_candidate_not_enrolled_cannot_start(client, user, exam):
    exam.enrolled_group = Group.objects.create(name="class 7b")
    exam.save()
    client.force_login(user)
    assert "you are not enrolled in exam" in client.get("/").content.decode()
    response = client.post(f"/exams/{exam.slug}/start/")
    assert response["Location"] == "/"
    assert not Attempt.objects.exists()
    user.groups.add(exam.enrolled_group)
    assert "Start exam" in client.get("/").content.decode()


def test_a_closed_window_refuses_a_start(client, user, exam):
    exam.closes_at = timezone.now() - timedelta(minutes=1)
    exam.save()
    client.force_login(user)
    assert "closed at" in client.get("/").content.decode()
    client.post(f"/exams/{exam.slug}/start/")
    assert not Attempt.objects.exists()


def test_a_question_of_the_exam_is_listed_in_order(client, user, running, questions):
    Question.objects.filter(pk=questions["text"].pk).update(position=0)
    client.force_login(user)
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert page.index(questions["text"].prompt) < page.index(questions["single"].prompt)
    assert (
        json.loads(page.split('id="exam-config" type="application/json">')[1].split("</script>")[0])[
            "stateUrl"
        ]
        == f"/attempts/{running.pk}/state/"
    )


def test_the_list_does_not_offer_to_continue_an_attempt_whose_clock_ran_out(client, user, running):
    Attempt.objects.filter(pk=running.pk).update(consented_at=timezone.now() - timedelta(hours=2))
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Continue your attempt" not in page
    assert "Your last attempt: timed out" in page
    assert Attempt.objects.get(pk=running.pk).status == "timed_out"


def test_the_list_shows_the_outcome_of_the_last_ended_attempt(client, user, running, questions):
    client.force_login(user)
    save(client, running, questions["single"], choices=correct(questions["single"]))
    client.post(f"/attempts/{running.pk}/submit/")
    page = client.get("/").content.decode()
    assert "Your last attempt: submitted on" in page
    assert "1 of 3 points for the choice questions" in page
    assert f'href="/attempts/{running.pk}/">its outcome</a>' in page


def test_a_candidate_gets_the_exams_number_of_attempts_and_no_more(client, user, exam):
    client.force_login(user)
    assert exam.attempts_allowed == 1  # a new exam is taken once
    client.post(f"/exams/{exam.slug}/start/")
    first = Attempt.objects.get()
    assert client.post(f"/exams/{exam.slug}/start/")["Location"] == f"/attempts/{first.pk}/"  # resumed
    lifecycle.apply(first, lifecycle.Action.TERMINATE, reason="ended")
    assert "you have used your 1 attempt at exam" in client.get("/").content.decode()
    client.post(f"/exams/{exam.slug}/start/")
    assert Attempt.objects.count() == 1
    exam.attempts_allowed = 0  # no limit
    exam.save()
    client.post(f"/exams/{exam.slug}/start/")
    assert Attempt.objects.count() == 2
