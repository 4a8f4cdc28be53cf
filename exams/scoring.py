"""Scoring at submit: a single or multiple choice question earns its points when exactly its
correct choices are picked, nothing otherwise (no partial credit: say so to authors). Short-text
answers are not scored here; a person marks them, so they count in neither score nor maximum."""

from __future__ import annotations

from decimal import Decimal

from exams.models import Answer, Attempt, Question


def score(attempt: Attempt) -> tuple[Decimal, Decimal]:
    """(score, maximum) of the attempt's choice questions; each answer's points are stored."""
    questions = list(
        Question.objects.filter(exam_id=attempt.exam_id)
        .exclude(kind=Question.Kind.TEXT)
        .prefetch_related("choices")
    )
    answers = {a.question_id: a for a in Answer.objects.filter(attempt=attempt).prefetch_related("choices")}
    total = maximum = Decimal(0)
    for question in questions:
        maximum += question.points
        answer = answers.get(question.pk)
        if answer is None:
            continue
        correct = {c.pk for c in question.choices.all() if c.is_correct}
        picked = {c.pk for c in answer.choices.all()}
        answer.points = question.points if picked == correct and correct else Decimal(0)
        answer.save(update_fields=["points"])
        total += answer.points
    return total, maximum
