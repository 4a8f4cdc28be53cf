"""Top-level URLs: exam pages, accounts, admin and the reference proctoring API."""

from django.contrib import admin
from django.urls import include, path

from proctoring import monitoring

urlpatterns = [
    # Before the admin's own URLs, which would otherwise take every path under admin/.
    path("admin/proctoring/queue/", include("proctoring.admin_urls")),
    path("admin/", admin.site.urls),
    path("proctor/", include("proctoring.dashboard_urls")),
    path("metrics", monitoring.metrics, name="metrics"),
    path("proctoring/stats.json", monitoring.stats_json, name="proctoring-stats"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reference-api/", include("proctoring.reference_api.urls")),
    path("", include("exams.urls")),
]
