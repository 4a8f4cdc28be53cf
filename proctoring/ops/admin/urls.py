"""The admin's queue pages, under /admin/proctoring/queue/, staff only (Django admin's login)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, path

from proctoring.ops.admin import failed as admin_failed
from proctoring.ops.admin import failed_actions as admin_failed_actions
from proctoring.ops.admin import job as admin_job
from proctoring.ops.admin import queue as admin_queue
from proctoring.ops.admin import waiting as admin_waiting


def staff(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    return path(route, admin.site.admin_view(view), name=name)


urlpatterns = [
    staff("", admin_queue.overview, "proctoring-queue-overview"),
    staff("stats.json", admin_queue.stats_json, "proctoring-queue-stats"),
    staff("clients/", admin_queue.clients, "proctoring-queue-clients"),
    staff("pause/", admin_queue.pause, "proctoring-queue-pause"),
    staff("resume/", admin_queue.resume, "proctoring-queue-resume"),
    staff("test-frame/", admin_queue.send_test_frame, "proctoring-queue-test-frame"),
    staff("waiting/", admin_waiting.waiting_list, "proctoring-queue-waiting"),
    staff("failed/", admin_failed.failed_list, "proctoring-queue-failed"),
    staff("failed/action/", admin_failed_actions.failed_action, "proctoring-queue-failed-action"),
    staff("jobs/<str:job_id>/", admin_job.job_detail, "proctoring-queue-job"),
    staff("jobs/<str:job_id>/frame", admin_job.job_frame, "proctoring-queue-job-frame"),
]
