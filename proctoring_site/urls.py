"""Top-level URLs: exam pages, accounts, admin, the REST API, LTI launches, the probes and, in
development, the reference proctoring API."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from proctoring.ops import monitoring
from proctoring_site import health

# The reference API is a development stand-in for the external service (a CPU-heavy face
# detector): mounted only with DJANGO_DEBUG or PROCTORING_REFERENCE_API=true, never in production.
reference_api: list[URLPattern | URLResolver] = (
    [path("reference-api/", include("proctoring.reference_api.urls"))]
    if settings.PROCTORING_REFERENCE_API
    else []
)


def superusers_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """django-rq's pages check only is_staff, and act on RQ behind our counts and the audit log:
    the admin's login, then superusers only."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied("django-rq's dashboard is for superusers")
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _django_rq_urls() -> list[URLPattern]:
    # Its JSON and metrics views (which let in any staff, or django-rq's own token) only for
    # superusers too: the dashboard's pages link to them.
    api = get_api_urlpatterns()
    for pattern in api:
        pattern.callback = superusers_only(pattern.callback)
    return api + get_admin_urlpatterns(view_wrapper=superusers_only)


django_rq_dashboard = (_django_rq_urls(), "django_rq")

urlpatterns = [
    # Answered by health.probe_middleware before the host check and the HTTPS redirect; routed
    # here too so that they are part of the site's map (reverse("healthz")).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Before the admin's own URLs, which would otherwise take every path under admin/.
    path("admin/proctoring/queue/", include("proctoring.ops.admin.urls")),
    path("admin/django_rq/dashboard/", include(django_rq_dashboard)),
    path("admin/", admin.site.urls),
    path("proctor/", include("proctoring.live.urls")),
    path("metrics", monitoring.metrics, name="metrics"),
    path("proctoring/stats.json", monitoring.stats_json, name="proctoring-stats"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("proctoring.api.urls")),
    path("lti/", include("proctoring.lti.urls")),
    *reference_api,
    path("", include("exams.urls")),
]
