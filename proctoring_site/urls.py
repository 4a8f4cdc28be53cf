"""Top-level URLs: exam pages, accounts, admin, the probes and, in development, the reference
proctoring API."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from proctoring.ops import monitoring
from proctoring_site import health

# The reference API is a development stand-in for the external service (a CPU-heavy face
# detector): mounted only with DJANGO_DEBUG or PROCTORING_REFERENCE_API=true, never in production.
reference_api: list[URLPattern | URLResolver] = (
    [path("reference-api/", include("proctoring.reference_api.urls"))]
    if settings.PROCTORING_REFERENCE_API
    else []
)

urlpatterns = [
    # Answered by health.probe_middleware before the host check and the HTTPS redirect; routed
    # here too so that they are part of the site's map (reverse("healthz")).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Before the admin's own URLs, which would otherwise take every path under admin/.
    path("admin/proctoring/queue/", include("proctoring.ops.admin.urls")),
    path("admin/", admin.site.urls),
    path("proctor/", include("proctoring.live.urls")),
    path("metrics", monitoring.metrics, name="metrics"),
    path("proctoring/stats.json", monitoring.stats_json, name="proctoring-stats"),
    path("accounts/", include("django.contrib.auth.urls")),
    *reference_api,
    path("", include("exams.urls")),
]
