"""The reviewer's pages of an exam: its review queue, the next attempt to review, the CSV of its
attempts, and one attempt's printable report. A proctor of the exam or a superuser; anyone else
with a proctor's role gets 403 (whether the exam or attempt exists or not), and is recorded."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from exams.models import AttemptReview, Exam
from proctoring.live import exports, review
from proctoring.live.action_views import attempt_or_403
from proctoring.live.views import proctor_required
from proctoring.results import audit, authorization


def _exam_or_403(request: HttpRequest, slug: str) -> Exam:
    exam = authorization.exam_of(request.user, slug)
    if exam is None:
        audit.record(request, audit.Action.REFUSED, ("exam", slug), audit.Outcome.REFUSED)
        raise PermissionDenied("not an exam you proctor")
    return exam


@proctor_required
def review_queue(request: HttpRequest, slug: str) -> HttpResponse:
    exam = _exam_or_403(request, slug)
    state = request.GET.get("state", "")
    choices = [review.UNREVIEWED, review.REVIEWED, *AttemptReview.Outcome.values]
    if state not in choices:
        state = ""
    context = {
        "exam": exam,
        "entries": review.queue(exam, state),
        "state": state,
        "states": [("", "all"), (review.UNREVIEWED, "not reviewed"), (review.REVIEWED, "reviewed")]
        + [(value, f"reviewed: {label}") for value, label in AttemptReview.Outcome.choices],
        "weights": review.WEIGHTS,
        "title": f"Review: {exam.title}",
    }
    return render(request, "proctor/review_queue.html", context)


@proctor_required
def next_unreviewed(request: HttpRequest, slug: str) -> HttpResponse:
    exam = _exam_or_403(request, slug)
    following = review.next_unreviewed(exam, after=request.GET.get("after") or None)
    if following is None:
        return HttpResponseRedirect(reverse("proctor-review-queue", args=[exam.slug]) + "?state=unreviewed")
    return HttpResponseRedirect(reverse("proctor-attempt", args=[following.pk]))


@proctor_required
def export_csv(request: HttpRequest, slug: str) -> HttpResponse:
    exam = _exam_or_403(request, slug)
    columns, rows = exports.rows(exam)
    audit.record(request, audit.Action.RESULTS_EXPORTED, exam, attempts=len(rows))
    response = HttpResponse(exports.to_csv(columns, rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{exam.slug}-attempts-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"  # names, scores and verdicts
    return response


@proctor_required
def report(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = attempt_or_403(request, attempt_id)
    audit.record(request, audit.Action.REPORT_VIEWED, attempt)
    context = exports.report(attempt)
    context["title"] = f"Report: {attempt.user.get_username()} · {attempt.exam.title}"
    response = render(request, "proctor/report.html", context)
    response["Cache-Control"] = "private, no-store"
    return response
