"""Exam pages: the list of open exams, and the attempt page that streams the camera."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from exams.models import Attempt, Exam
from exams.services import ExamClosed, give_consent, start_attempt
from proctoring.core import protocol


@login_required
def exam_list(request: HttpRequest) -> HttpResponse:
    exams = Exam.objects.filter(is_active=True)
    open_attempts = {a.exam_id: a for a in Attempt.objects.filter(user=_user(request), ended_at__isnull=True)}
    rows = [(exam, open_attempts.get(exam.pk)) for exam in exams]
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
    attempt = get_object_or_404(Attempt, pk=attempt_id, user=request.user)
    give_consent(attempt)
    return redirect("exams:attempt", attempt_id=attempt.pk)


@login_required
def attempt_page(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = get_object_or_404(Attempt, pk=attempt_id, user=request.user)
    context = {
        "attempt": attempt,
        "retention_days": settings.PROCTORING_RETENTION_DAYS,
        "stream_config": {
            "consented": attempt.consented_at is not None,
            "wsPath": f"/ws/proctoring/{attempt.pk}/",
            "fps": settings.PROCTORING_CLIENT_FPS,
            "intervalMs": round(1000 / settings.PROCTORING_CLIENT_FPS),
            "jpegQuality": 0.8,
            "maxPixels": settings.PROCTORING_MAX_FRAME_PIXELS,
            "protocol": protocol.as_json_data(),
        },
    }
    return render(request, "exams/attempt.html", context)


def _user(request: HttpRequest) -> User:
    # Only behind login_required: the user is a real one.
    assert isinstance(request.user, User)
    return request.user
