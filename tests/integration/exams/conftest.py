"""An exam with one question of each kind, and an attempt at it whose clock is running."""

from __future__ import annotations

from typing import Any

import pytest

from exams.models import Attempt, Choice, Exam, Question
from exams.services import give_consent


@pytest.fixture
def questions(exam: Exam) -> dict[str, Question]:
    single = Question.objects.create(exam=exam, position=1, kind=Question.Kind.SINGLE, prompt="2 + 2?")
    Choice.objects.create(question=single, position=1, text="3")
    Choice.objects.create(question=single, position=2, text="4", is_correct=True)
    multiple = Question.objects.create(
        exam=exam, position=2, kind=Question.Kind.MULTIPLE, prompt="Even numbers?", points=2
    )
    Choice.objects.create(question=multiple, position=1, text="2", is_correct=True)
    Choice.objects.create(question=multiple, position=2, text="3")
    Choice.objects.create(question=multiple, position=3, text="6", is_correct=True)
    text = Question.objects.create(exam=exam, position=3, kind=Question.Kind.TEXT, prompt="Why?")
    return {"single": single, "multiple": multiple, "text": text}


@pytest.fixture
def running(user: Any, exam: Exam, questions: dict[str, Question]) -> Attempt:
    """The user's attempt, agreed to: in progress, its clock started."""
    return give_consent(Attempt.objects.create(user=user, exam=exam))
