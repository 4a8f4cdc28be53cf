"""Authoring exams in the admin (questions inline, choices inline) and the attempt's page there
(its state and the transitions recorded, read-only)."""

from __future__ import annotations

from typing import Any

import pytest

from exams import lifecycle
from exams.models import Attempt, Choice, Exam, Question

pytestmark = pytest.mark.django_db


def test_the_exam_page_shows_its_questions_inline_with_window_and_enrolment(
    admin_client: Any, exam: Exam, questions: dict[str, Question]
) -> None:
    page = admin_client.get(f"/admin/exams/exam/{exam.pk}/change/").content.decode()
    for field in ("opens_at", "closes_at", "enrolled_group", "duration_minutes"):
        assert f'name="{field}' in page, field
    assert 'name="questions-0-position"' in page and 'name="questions-0-kind"' in page
    assert questions["text"].prompt in page


def test_an_author_adds_a_question_inline_and_its_choices_on_its_page(admin_client: Any, exam: Exam) -> None:
    form = {
        "title": exam.title,
        "slug": exam.slug,
        "duration_minutes": 30,
        "attempts_allowed": 1,
        "is_active": "on",
        "questions-TOTAL_FORMS": 1,
        "questions-INITIAL_FORMS": 0,
        "questions-0-position": 1,
        "questions-0-kind": "single",
        "questions-0-prompt": "Capital of France?",
        "questions-0-points": "1",
    }
    response = admin_client.post(f"/admin/exams/exam/{exam.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    question = Question.objects.get(exam=exam)
    page = admin_client.get(f"/admin/exams/question/{question.pk}/change/").content.decode()
    assert 'name="choices-0-text"' in page and 'name="choices-0-is_correct"' in page
    choices = {
        "exam": exam.pk,
        "position": 1,
        "kind": "single",
        "prompt": question.prompt,
        "points": "1",
        "choices-TOTAL_FORMS": 2,
        "choices-INITIAL_FORMS": 0,
        "choices-0-position": 1,
        "choices-0-text": "Paris",
        "choices-0-is_correct": "on",
        "choices-1-position": 2,
        "choices-1-text": "Lyon",
    }
    assert admin_client.post(f"/admin/exams/question/{question.pk}/change/", choices).status_code == 302
    assert [(c.text, c.is_correct) for c in Choice.objects.filter(question=question)] == [
        ("Paris", True),
        ("Lyon", False),
    ]


def test_the_attempt_page_shows_state_deadline_score_and_transitions_read_only(
    admin_client: Any, running: Attempt
) -> None:
    lifecycle.apply(running, lifecycle.Action.EXTEND, extra_seconds=300, reason="a late start")
    page = admin_client.get(f"/admin/exams/attempt/{running.pk}/change/").content.decode()
    assert "in progress" in page and "a late start" in page and "deadline" in page.lower()
    assert 'name="transitions-0-reason"' not in page, "transitions are not editable"
    assert 'name="status"' not in page, "the state is the state machine's"
    listing = admin_client.get("/admin/exams/attempt/").content.decode()
    assert "in progress" in listing


def test_ending_an_attempt_in_the_admin_is_a_terminate_transition_by_that_staff_member(
    admin_client: Any, running: Attempt
) -> None:
    admin_client.post(
        "/admin/exams/attempt/", {"action": "end_attempts", "_selected_action": [str(running.pk)]}
    )
    running.refresh_from_db()
    assert running.status == "terminated"
    transition = running.transitions.get(action=lifecycle.Action.TERMINATE)
    assert transition.by is not None and transition.by.username == "admin"
    assert transition.reason == "ended by staff in the admin"
