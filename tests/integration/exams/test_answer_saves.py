"""Saving answers from the exam page: owner only, CSRF, bounds, choices of the question, only
while in progress, and the version check that keeps two tabs from overwriting each other."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from exams import lifecycle
from exams.models import Answer, Attempt, Choice, Exam, Question

pytestmark = pytest.mark.django_db


def save(client: Any, attempt: Attempt, question: Question, version: int = 0, **fields: Any) -> Any:
    body = {"question": question.pk, "version": version, **fields}
    return client.post(f"/attempts/{attempt.pk}/answers/", json.dumps(body), content_type="application/json")


def correct(question: Question) -> list[int]:
    return [c.pk for c in question.choices.filter(is_correct=True)]


def test_a_choice_answer_is_saved_and_its_version_grows(client, user, running, questions):
    client.force_login(user)
    first = save(client, running, questions["multiple"], choices=correct(questions["multiple"]))
    assert first.status_code == 200, first.content
    assert first.json()["answer"] == {
        "question": questions["multiple"].pk,
        "version": 1,
        "choices": sorted(correct(questions["multiple"])),
        "text": "",
    }
    second = save(client, running, questions["multiple"], version=1, choices=[])
    assert second.json()["answer"]["version"] == 2
    answer = Answer.objects.get(attempt=running, question=questions["multiple"])
    assert (answer.version, list(answer.choices.all())) == (2, [])


def test_a_text_answer_is_saved_and_shown_on_reload(client, user, running, questions):
    client.force_login(user)
    assert save(client, running, questions["text"], text="Because <b>light</b>").status_code == 200
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert "Because &lt;b&gt;light&lt;/b&gt;</textarea>" in page
    assert f'data-question="{questions["text"].pk}" data-kind="text" data-version="1"' in page


def test_a_picked_choice_is_checked_on_reload(client, user, running, questions):
    client.force_login(user)
    [four] = correct(questions["single"])
    save(client, running, questions["single"], choices=[four])
    page = client.get(f"/attempts/{running.pk}/").content.decode()
    assert f'value="{four}" checked' in page


def test_a_save_based_on_an_older_version_gets_409_with_the_current_answer(client, user, running, questions):
    client.force_login(user)
    save(client, running, questions["text"], text="first tab")
    stale = save(client, running, questions["text"], version=0, text="second tab, never saw the first")
    assert stale.status_code == 409
    assert stale.json()["current"] == {
        "question": questions["text"].pk,
        "version": 1,
        "choices": [],
        "text": "first tab",
    }
    assert Answer.objects.get(attempt=running, question=questions["text"]).text == "first tab"


def test_a_save_naming_a_version_ahead_of_the_answer_is_409_too(client, user, running, questions):
    client.force_login(user)
    response = save(client, running, questions["text"], version=3, text="from nowhere")
    assert response.status_code == 409
    assert response.json()["current"]["version"] == 0
    assert not Answer.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "x" * 4001},
        {"choices": "all"},
        {"version": "0"},
    ],
)
def test_a_save_out_of_bounds_is_400(client, user, running, questions, fields):
    client.force_login(user)
    body = {"question": questions["text"].pk, "version": 0, **fields}
    response = client.post(
        f"/attempts/{running.pk}/answers/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert not Answer.objects.exists()


def test_a_body_that_is_not_json_or_too_large_is_400(client, user, running, questions):
    client.force_login(user)
    url = f"/attempts/{running.pk}/answers/"
    assert client.post(url, "{not json", content_type="application/json").status_code == 400
    huge = json.dumps(
        {"question": questions["text"].pk, "version": 0, "text": "x" * 4000, "pad": "y" * 70000}
    )
    assert client.post(url, huge, content_type="application/json").status_code == 400


def test_choices_of_another_question_are_refused(client, user, running, questions):
    client.force_login(user)
    foreign = correct(questions["multiple"])[:1]
    response = save(client, running, questions["single"], choices=foreign)
    assert response.status_code == 400
    assert "not of question" in response.json()["error"]


def test_a_question_of_another_exam_is_refused(client, user, running):
    other = Exam.objects.create(slug="other", title="Other")
    question = Question.objects.create(exam=other, kind=Question.Kind.TEXT, prompt="?")
    client.force_login(user)
    assert save(client, running, question, text="hi").status_code == 400


def test_a_single_choice_question_takes_one_choice_and_a_text_question_no_choices(
    client, user, running, questions
):
    client.force_login(user)
    both = list(questions["single"].choices.values_list("pk", flat=True))
    assert save(client, running, questions["single"], choices=both).status_code == 400
    choice = Choice.objects.filter(question=questions["single"]).first()
    assert choice is not None
    assert save(client, running, questions["text"], choices=[choice.pk]).status_code == 400
    assert save(client, running, questions["single"], text="words").status_code == 400


@pytest.mark.parametrize(
    "action", [lifecycle.Action.PAUSE, lifecycle.Action.SUBMIT, lifecycle.Action.TERMINATE]
)
def test_no_answer_is_taken_while_paused_or_after_the_end(client, user, running, questions, action):
    lifecycle.apply(running, action)
    client.force_login(user)
    response = save(client, running, questions["text"], text="late")
    assert response.status_code == 409
    assert response.json()["state"]["status"] == Attempt.objects.get(pk=running.pk).status
    assert not Answer.objects.exists()


def test_no_answer_is_taken_before_the_candidate_agreed(client, user, exam, questions):
    attempt = Attempt.objects.create(user=user, exam=exam)
    client.force_login(user)
    assert save(client, attempt, questions["text"], text="early").status_code == 409


def test_another_users_attempt_takes_no_answer(client, running, questions):
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    client.force_login(other)
    assert save(client, running, questions["text"], text="not mine").status_code == 404
    assert not Answer.objects.exists()


def test_a_save_needs_the_csrf_token(user, running, questions):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert save(client, running, questions["text"], text="forged").status_code == 403
    client.get(f"/attempts/{running.pk}/")
    token = client.cookies["csrftoken"].value
    body = json.dumps({"question": questions["text"].pk, "version": 0, "text": "mine"})
    response = client.post(
        f"/attempts/{running.pk}/answers/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200


def test_a_save_is_post_only_and_needs_login(client, user, running, questions):
    assert save(client, running, questions["text"], text="anon").status_code == 302
    client.force_login(user)
    assert client.get(f"/attempts/{running.pk}/answers/").status_code == 405


def test_a_save_after_the_deadline_times_the_attempt_out_and_is_refused(client, user, running, questions):
    Attempt.objects.filter(pk=running.pk).update(time_limit_seconds=0)
    client.force_login(user)
    response = save(client, running, questions["text"], text="too late")
    assert response.status_code == 409
    assert response.json()["state"]["status"] == "timed_out"
    assert not Answer.objects.exists()
