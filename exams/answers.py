"""Saving an exam taker's answers as they go, and what the exam page reads of its attempt.

A save names the answer's version it changed: one based on an older version is refused with the
current answer (another tab or a lost reply saved in between), so no save overwrites an answer
its author had not seen. Only an attempt in progress takes answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from django.db import IntegrityError, transaction
from django.utils import timezone

from exams import lifecycle
from exams.models import Answer, Attempt, ProctorMessage, Question

MAX_TEXT = 4000  # characters of a short-text answer (Answer.text's max_length)


class AnswerRefused(Exception):
    """The save is malformed, out of bounds or names a question or choice not of this attempt (400)."""


class AttemptNotOpen(Exception):
    """The attempt takes no answers now: paused, ended or not yet begun (409 with its state)."""


class StaleAnswer(Exception):
    """The save was based on an older version of the answer (409 with the current one)."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__(f"answer changed since version {current['version']}")
        self.current = current


@dataclass(frozen=True)
class Save:
    question_id: int
    version: int
    choice_ids: tuple[int, ...]
    text: str


def parse_save(data: Any) -> Save:
    """A save from the page's JSON body: {"question": id, "version": n, "choices": [ids], "text": s}.

    Raises:
        AnswerRefused: a field is missing, of the wrong type or out of bounds.
    """
    if not isinstance(data, dict):
        raise AnswerRefused(f"expected a JSON object, got {type(data).__name__}")
    question, version = data.get("question"), data.get("version")
    choices, text = data.get("choices", []), data.get("text", "")
    if not _is_int(question) or not _is_int(version) or version < 0:
        raise AnswerRefused(f"question and version must be integers, got {question!r} and {version!r}")
    if not isinstance(choices, list) or len(choices) > 100 or not all(_is_int(c) for c in choices):
        raise AnswerRefused(f"choices must be a list of at most 100 ids, got {str(choices)[:80]!r}")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise AnswerRefused(f"text must be a string of at most {MAX_TEXT} characters")
    return Save(question, version, tuple(dict.fromkeys(choices)), text)


def save_answer(attempt: Attempt, save: Save) -> dict[str, Any]:
    """Stores `save` as the attempt's answer to its question if it is based on the current
    version; returns the answer as the page shows it (`answer_data`), with its new version.

    Raises:
        AttemptNotOpen: the attempt is not in progress (checked under its row lock, so a save
            does not slip in after a pause or a submit).
        AnswerRefused: the question is not of this exam, or a choice not of the question, or
            a single-choice question is given several.
        StaleAnswer: the answer's version is not the one the save names.
    """
    question = Question.objects.filter(pk=save.question_id, exam_id=attempt.exam_id).first()
    if question is None:
        raise AnswerRefused(f"question {save.question_id} is not part of this exam")
    _check_choices(question, save)
    try:
        return _store(attempt, question, save)
    except IntegrityError:  # two first saves of the same answer raced: the loser is stale
        return _store(attempt, question, save)


def _check_choices(question: Question, save: Save) -> None:
    if question.kind == Question.Kind.TEXT:
        if save.choice_ids:
            raise AnswerRefused(f"question {question.pk} takes text, not choices")
        return
    if save.text:
        raise AnswerRefused(f"question {question.pk} takes choices, not text")
    valid = set(question.choices.values_list("pk", flat=True))
    foreign = [c for c in save.choice_ids if c not in valid]
    if foreign:
        raise AnswerRefused(f"choices {foreign!r} are not of question {question.pk}")
    if question.kind == Question.Kind.SINGLE and len(save.choice_ids) > 1:
        raise AnswerRefused(f"question {question.pk} takes one choice, got {len(save.choice_ids)}")


def _store(attempt: Attempt, question: Question, save: Save) -> dict[str, Any]:
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status != Attempt.Status.IN_PROGRESS:
            raise AttemptNotOpen(f"the attempt is {locked.get_status_display()}")
        answer = Answer.objects.select_for_update().filter(attempt=locked, question=question).first()
        current = answer.version if answer is not None else 0
        if save.version != current:
            raise StaleAnswer(answer_data(answer) if answer else _empty(question.pk))
        if answer is None:
            answer = Answer(attempt=locked, question=question)
        answer.text = save.text
        answer.version = current + 1
        answer.save()
        answer.choices.set(save.choice_ids)
    return answer_data(answer)


def answer_data(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question_id,
        "version": answer.version,
        "choices": sorted(c.pk for c in answer.choices.all()),
        "text": answer.text,
    }


def _empty(question_id: int) -> dict[str, Any]:
    return {"question": question_id, "version": 0, "choices": [], "text": ""}


def answers_by_question(attempt: Attempt) -> dict[int, dict[str, Any]]:
    """The attempt's saved answers, by question id, as the page renders them."""
    saved = Answer.objects.filter(attempt=attempt).prefetch_related("choices")
    return {answer.question_id: answer_data(answer) for answer in saved}


def attempt_state(attempt: Attempt, now: datetime | None = None) -> dict[str, Any]:
    """What the page polls: the attempt's status and time left (as the socket's `attempt`
    message says it), how it ended, its score, and the proctor messages not yet read."""
    now = now or timezone.now()
    ended = attempt.status in Attempt.ENDED
    state: dict[str, Any] = {
        "status": attempt.status,
        "status_label": attempt.get_status_display(),
        "seconds_left": None if ended else _rounded(attempt.seconds_left(now)),
        "ended": ended,
        "extra_seconds": attempt.extra_seconds,
        "reason": attempt.end_reason if ended else pause_reason(attempt),
        "score": _number(attempt.score),
        "max_score": _number(attempt.max_score),
        "messages": [
            {"id": m.pk, "body": m.body, "sent_at": m.sent_at.isoformat()}
            for m in attempt.messages.filter(read_at__isnull=True)
        ],
    }
    return state


def pause_reason(attempt: Attempt) -> str:
    if attempt.status != Attempt.Status.PAUSED:
        return ""
    pause = attempt.transitions.filter(action=lifecycle.Action.PAUSE).order_by("-at", "-pk").first()
    return pause.reason if pause else ""


def mark_read(attempt: Attempt, message_id: int) -> bool:
    """Marks the attempt's proctor message read (the first reading counts); False if the
    attempt has no such message."""
    message = ProctorMessage.objects.filter(pk=message_id, attempt=attempt).first()
    if message is None:
        return False
    if message.read_at is None:
        ProctorMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=timezone.now())
    return True


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
