"""The proctor dashboard's pages: exams, the live grid of an exam's attempts, an attempt's
timeline with incident reviews, and the images a proctor may see. Each page is a proctor's
(`proctoring.results.authorization`): staff who proctor no exam get 403, and anything of an exam
the user does not proctor is a 404. What a proctor sees of an attempt and does to it, and what
they were refused, goes to the audit log (`proctoring.results.audit`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from exams import lifecycle
from exams.models import Attempt, AttemptReview
from proctoring.core.selftest import TEST_EXAM_SLUG
from proctoring.live import actions, dashboard
from proctoring.live.review import COMMENT_MAX as REVIEW_COMMENT_MAX
from proctoring.models import Incident
from proctoring.results import audit, authorization, incidents, snapshots


def proctor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff login (else the admin's login page), then a proctor of some exam (else 403)."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not authorization.is_proctor(request.user):
            audit.record(request, audit.Action.REFUSED, ("url", request.path), audit.Outcome.REFUSED)
            raise PermissionDenied("you proctor no exam")
        return view(request, *args, **kwargs)

    return staff_member_required(checked)


@proctor_required
def exam_list(request: HttpRequest) -> HttpResponse:
    exams = (
        authorization.proctored_exams(request.user)
        .exclude(slug=TEST_EXAM_SLUG)
        .order_by("-is_active", "title")
    )
    rows = [(exam, exam.attempts.filter(ended_at__isnull=True).count()) for exam in exams]
    return render(request, "proctor/exam_list.html", {"rows": rows, "title": "Proctoring"})


@proctor_required
def exam_grid(request: HttpRequest, slug: str) -> HttpResponse:
    exam = authorization.exam_of(request.user, slug)
    if exam is None:
        raise _not_yours(request, ("exam", slug))
    context = {
        "exam": exam,
        "rows": dashboard.rows(dashboard.in_progress(exam)),
        "title": f"Live: {exam.title}",
        "socket_path": f"/ws/proctor/exams/{exam.slug}/",
    }
    return render(request, "proctor/grid.html", context)


@proctor_required
def attempt_timeline(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = authorization.attempt_of(request.user, attempt_id)
    if attempt is None:
        raise _not_yours(request, ("attempt", attempt_id))
    kind = request.GET.get("kind", "").strip() or None
    attempt = lifecycle.enforce_deadline(attempt)
    audit.record(request, audit.Action.ATTEMPT_VIEWED, attempt)
    seconds_left = attempt.seconds_left(timezone.now())
    context = {
        "attempt": attempt,
        "timeline": dashboard.timeline(attempt, kind),
        "reviews": Incident.Review,
        "title": f"{attempt.user.get_username()} · {attempt.exam.title}",
        "ended": attempt.status in Attempt.ENDED,
        "paused": attempt.status == Attempt.Status.PAUSED,
        "seconds_left": None if seconds_left is None else int(seconds_left),
        "time_left": dashboard.clock(seconds_left),
        "transitions": attempt.transitions.select_related("by"),
        "attempt_messages": attempt.messages.select_related("sender"),
        "attempt_reviews": attempt.reviews.select_related("reviewer"),
        "outcomes": AttemptReview.Outcome.choices,
        "limits": {
            "message": actions.MESSAGE_MAX,
            "reason": actions.REASON_MAX,
            "comment": actions.COMMENT_MAX,
            "review": REVIEW_COMMENT_MAX,
            "minutes": actions.EXTRA_MINUTES,
        },
    }
    return render(request, "proctor/attempt.html", context)


@proctor_required
@require_POST
def review(request: HttpRequest, incident_id: int) -> HttpResponseRedirect:
    incident = authorization.incident_of(request.user, incident_id)
    if incident is None:
        raise _not_yours(request, ("incident", str(incident_id)))
    status, comment = request.POST.get("status", ""), request.POST.get("comment", "")
    try:
        incidents.review(incident, request.user, status, comment)
    except ValueError as exc:
        audit.record(request, audit.review_action(status), incident, audit.Outcome.ERROR, error=str(exc))
        messages.error(request, str(exc))
    else:
        audit.record(request, audit.review_action(status), incident, status=status, comment=comment)
        messages.success(request, f"Incident {incident.pk} marked {incident.review_status}.")
    return HttpResponseRedirect(
        reverse("proctor-attempt", args=[incident.attempt_id]) + f"#incident-{incident.pk}"
    )


@proctor_required
def thumbnail(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = authorization.attempt_of(request.user, attempt_id)
    if attempt is None:
        raise _not_yours(request, ("attempt", attempt_id))
    found = dashboard.latest_thumbnail(str(attempt_id))
    if found is None:
        raise Http404("no recent frame")
    audit.record_thumbnail(request, attempt)
    image, content_type = found
    return _private_image(image, content_type)


@proctor_required
def snapshot(request: HttpRequest, job_id: str) -> HttpResponse:
    frame = authorization.snapshot_of(request.user, job_id)
    if frame is None:
        raise _not_yours(request, ("frame", job_id))
    found = snapshots.read(frame.snapshot_key)
    if found is None:
        raise Http404("no snapshot (purged)")
    audit.record(request, audit.Action.SNAPSHOT_VIEWED, frame)
    return _private_image(*found)


def _not_yours(request: HttpRequest, target: tuple[str, str]) -> Http404:
    """Not among the user's exams' (or not there at all: the answer is the same), recorded."""
    audit.record(request, audit.Action.REFUSED, (target[0], str(target[1])), audit.Outcome.REFUSED)
    return Http404("nothing of that id among your exams'")


def _private_image(image: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(image, content_type=content_type)
    # Personal data: never in a shared cache, and not kept by the browser beyond the page.
    response["Cache-Control"] = "private, no-store"
    return response
