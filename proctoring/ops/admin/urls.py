"""The admin's queue pages, under /admin/proctoring/queue/: the admin's login, then the queue's
permissions (`proctoring.results.authorization`): `view_queue` to read a page, `operate_queue` to
act. Any other staff account gets 403, and the refusal is in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from proctoring.ops.admin import expired as admin_expired
from proctoring.ops.admin import failed as admin_failed
from proctoring.ops.admin import failed_actions as admin_failed_actions
from proctoring.ops.admin import job as admin_job
from proctoring.ops.admin import queue as admin_queue
from proctoring.ops.admin import waiting as admin_waiting
from proctoring.results import audit, authorization


def requiring(
    allowed: Callable[[Any], bool], view: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not allowed(request.user):
            audit.record(request, audit.Action.REFUSED, ("url", request.path), audit.Outcome.REFUSED)
            raise PermissionDenied("not a queue operator")
        return view(request, *args, **kwargs)

    return checked


def viewing(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    return path(route, admin.site.admin_view(requiring(authorization.can_view_queue, view)), name=name)


def operating(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    return path(route, admin.site.admin_view(requiring(authorization.can_operate_queue, view)), name=name)


urlpatterns = [
    viewing("", admin_queue.overview, "proctoring-queue-overview"),
    viewing("stats.json", admin_queue.stats_json, "proctoring-queue-stats"),
    viewing("clients/", admin_queue.clients, "proctoring-queue-clients"),
    operating("pause/", admin_queue.pause, "proctoring-queue-pause"),
    operating("resume/", admin_queue.resume, "proctoring-queue-resume"),
    operating("circuit/close/", admin_queue.close_circuit, "proctoring-queue-close-circuit"),
    operating("test-frame/", admin_queue.send_test_frame, "proctoring-queue-test-frame"),
    viewing("waiting/", admin_waiting.waiting_list, "proctoring-queue-waiting"),
    viewing("failed/", admin_failed.failed_list, "proctoring-queue-failed"),
    operating("failed/action/", admin_failed_actions.failed_action, "proctoring-queue-failed-action"),
    viewing("expired/", admin_expired.expired_list, "proctoring-queue-expired"),
    viewing("jobs/<str:job_id>/", admin_job.job_detail, "proctoring-queue-job"),
    # The image is a face: the view also needs the user to proctor the frame's exam.
    viewing("jobs/<str:job_id>/frame", admin_job.job_frame, "proctoring-queue-job-frame"),
]
