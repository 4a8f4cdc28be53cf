"""The proctor dashboard's pages (staff only): exams, the live grid of an exam's attempts, an
attempt's timeline with incident reviews, and the images a proctor may see."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from exams.models import Attempt, Exam
from proctoring.core.selftest import TEST_EXAM_SLUG
from proctoring.live import dashboard
from proctoring.models import Incident
from proctoring.results import incidents, snapshots


@staff_member_required
def exam_list(request: HttpRequest) -> HttpResponse:
    exams = Exam.objects.exclude(slug=TEST_EXAM_SLUG).order_by("-is_active", "title")
    rows = [(exam, exam.attempts.filter(ended_at__isnull=True).count()) for exam in exams]
    return render(request, "proctor/exam_list.html", {"rows": rows, "title": "Proctoring"})


@staff_member_required
def exam_grid(request: HttpRequest, slug: str) -> HttpResponse:
    exam = get_object_or_404(Exam, slug=slug)
    context = {
        "exam": exam,
        "rows": dashboard.rows(dashboard.in_progress(exam)),
        "title": f"Live: {exam.title}",
        "socket_path": f"/ws/proctor/exams/{exam.slug}/",
    }
    return render(request, "proctor/grid.html", context)


@staff_member_required
def attempt_timeline(request: HttpRequest, attempt_id: str) -> HttpResponse:
    attempt = get_object_or_404(Attempt.objects.select_related("user", "exam"), pk=attempt_id)
    kind = request.GET.get("kind", "").strip() or None
    context = {
        "attempt": attempt,
        "timeline": dashboard.timeline(attempt, kind),
        "reviews": Incident.Review,
        "title": f"{attempt.user.get_username()} · {attempt.exam.title}",
    }
    return render(request, "proctor/attempt.html", context)


@staff_member_required
@require_POST
def review(request: HttpRequest, incident_id: int) -> HttpResponseRedirect:
    incident = get_object_or_404(Incident, pk=incident_id)
    try:
        incidents.review(
            incident, request.user, request.POST.get("status", ""), request.POST.get("comment", "")
        )
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Incident {incident.pk} marked {incident.review_status}.")
    return HttpResponseRedirect(
        reverse("proctor-attempt", args=[incident.attempt_id]) + f"#incident-{incident.pk}"
    )


@staff_member_required
def thumbnail(request: HttpRequest, attempt_id: str) -> HttpResponse:
    found = dashboard.latest_thumbnail(str(attempt_id))
    if found is None:
        raise Http404("no recent frame")
    image, content_type = found
    return _private_image(image, content_type)


@staff_member_required
def snapshot(request: HttpRequest, frame_id: int) -> HttpResponse:
    frame = dashboard.snapshot_frame(frame_id)
    found = snapshots.read(frame.snapshot_key) if frame else None
    if found is None:
        raise Http404("no snapshot (purged, or this frame opened no incident)")
    return _private_image(*found)


def _private_image(image: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(image, content_type=content_type)
    # Personal data: never in a shared cache, and not kept by the browser beyond the page.
    response["Cache-Control"] = "private, no-store"
    return response
