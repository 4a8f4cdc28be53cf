"""Exam pages: the list of open exams, the attempt page (the camera, the questions, the clock),
and the JSON endpoints that page calls: save an answer, read the attempt's state, mark a
proctor's message read. Every view that reads an attempt lets its clock end it first."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from exams import answers, lifecycle
from exams.models import Attempt, Exam
from exams.services import ExamClosed, give_consent, start_attempt, start_refusal
from proctoring.core import protocol

MAX_BODY = 64 * 1024  # bytes of an answer save: 4000 characters of text fit, with room for UTF-8


@login_required
def exam_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    exams = Exam.objects.filter(is_active=True)
    # An attempt whose clock ran out is not offered to continue.
    candidates = Attempt.objects.filter(user=user, ended_at__isnull=True).select_related("exam")
    open_attempts = {a.exam_id: a for a in map(lifecycle.enforce_deadline, candidates) if a.is_open}
    last_ended: dict[int, Attempt] = {}
    for ended in Attempt.objects.filter(user=user, ended_at__isnull=False).order_by("ended_at"):
        last_ended[ended.exam_id] = ended
    rows = [
        (
            exam,
            open_attempts.get(exam.pk),
            None if exam.pk in open_attempts else start_refusal(user, exam),
            last_ended.get(exam.pk),
        )
        for exam in exams
    ]
    return render(request, "exams/exam_list.html", {"rows": rows})


@login_required
@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    exam = get_object_or_404(Exam, slug=slug)
    try:
        attempt = start_attempt(_user(request), exam)
    except ExamClosed as exc:
        messages.error(request, str(exc))
        return redirect("exams:list")
    return redirect("exams:attempt", attempt_id=attempt.pk)


@login_required
@require_POST
def consent(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = _own_attempt(request, attempt_id)
    give_consent(attempt)
    return redirect("exams:attempt", attempt_id=attempt.pk)


@login_required
def attempt_page(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = _own_attempt(request, attempt_id)
    state = answers.attempt_state(attempt)
    saved = answers.answers_by_question(attempt)
    questions = attempt.exam.questions.prefetch_related("choices")
    context = {
        "attempt": attempt,
        "state": state,
        "items": [(question, saved.get(question.pk)) for question in questions],
        "retention_days": settings.PROCTORING_RETENTION_DAYS,
        "stream_config": {
            "consented": attempt.consented_at is not None,
            "ended": state["ended"],
            "wsPath": f"/ws/proctoring/{attempt.pk}/",
            "fps": settings.PROCTORING_CLIENT_FPS,
            "intervalMs": round(1000 / settings.PROCTORING_CLIENT_FPS),
            "jpegQuality": 0.8,
            "maxPixels": settings.PROCTORING_MAX_FRAME_PIXELS,
            "protocol": protocol.as_json_data(),
        },
        "exam_config": {
            "state": state,
            "answerUrl": reverse("exams:answer", args=[attempt.pk]),
            "stateUrl": reverse("exams:state", args=[attempt.pk]),
            "messageReadUrl": reverse("exams:message_read", args=[attempt.pk, 0]),
            "maxText": answers.MAX_TEXT,
        },
    }
    return render(request, "exams/attempt.html", context)


@login_required
@require_POST
def save_answer(request: HttpRequest, attempt_id: str) -> JsonResponse:
    attempt = _own_attempt(request, attempt_id)
    if len(request.body) > MAX_BODY:
        return _refused(400, f"the body is larger than {MAX_BODY} bytes")
    try:
        data: Any = json.loads(request.body)
        saved = answers.save_answer(attempt, answers.parse_save(data))
    except (ValueError, answers.AnswerRefused) as exc:
        return _refused(400, str(exc))
    except answers.AttemptNotOpen as exc:
        attempt.refresh_from_db()
        return JsonResponse({"error": str(exc), "state": answers.attempt_state(attempt)}, status=409)
    except answers.StaleAnswer as exc:
        return JsonResponse({"error": "changed in another tab", "current": exc.current}, status=409)
    return JsonResponse({"answer": saved})


@login_required
@require_GET
def attempt_state(request: HttpRequest, attempt_id: str) -> JsonResponse:
    attempt = _own_attempt(request, attempt_id)
    response = JsonResponse(answers.attempt_state(attempt))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def submit(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = _own_attempt(request, attempt_id)
    try:
        lifecycle.apply(
            attempt, lifecycle.Action.SUBMIT, by=request.user, reason="submitted by the exam taker"
        )
    except lifecycle.TransitionRefused as exc:
        messages.error(request, f"The exam was not submitted: {exc}.")
    return redirect("exams:attempt", attempt_id=attempt.pk)


@login_required
@require_POST
def message_read(request: HttpRequest, attempt_id: str, message_id: int) -> JsonResponse:
    attempt = _own_attempt(request, attempt_id)
    if not answers.mark_read(attempt, message_id):
        return _refused(404, f"no message {message_id} for this attempt")
    return JsonResponse({"read": message_id})


def _own_attempt(request: HttpRequest, attempt_id: str) -> Attempt:
    """The request's user's attempt (404 for anyone else's), after its clock had its say."""
    attempt = get_object_or_404(Attempt.objects.select_related("exam"), pk=attempt_id, user=request.user)
    return lifecycle.enforce_deadline(attempt)


def _refused(status: int, error: str) -> JsonResponse:
    return JsonResponse({"error": error}, status=status)


def _user(request: HttpRequest) -> User:
    # Only behind login_required: the user is a real one.
    assert isinstance(request.user, User)
    return request.user
