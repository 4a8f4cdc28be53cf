"""/api/v1/: the endpoints, the OpenAPI schema and its docs (Swagger UI from the sidecar
package's own static files, no CDN)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from proctoring.api import views

schema_view = SpectacularAPIView.as_view(
    permission_classes=[AllowAny], authentication_classes=[], throttle_classes=[]
)
docs_view = SpectacularSwaggerView.as_view(
    url_name="api-schema", permission_classes=[AllowAny], authentication_classes=[], throttle_classes=[]
)

urlpatterns = [
    path("attempts/", views.AttemptsView.as_view(), name="api-attempts"),
    path("attempts/<str:attempt_id>/", views.AttemptView.as_view(), name="api-attempt"),
    path("attempts/<str:attempt_id>/end/", views.EndAttemptView.as_view(), name="api-attempt-end"),
    path("attempts/<str:attempt_id>/incidents/", views.IncidentsView.as_view(), name="api-attempt-incidents"),
    path("exams/<str:slug>/attempts/", views.ReviewQueueView.as_view(), name="api-review-queue"),
    path("webhooks/", views.WebhooksView.as_view(), name="api-webhooks"),
    path("webhooks/<str:webhook_id>/", views.WebhookView.as_view(), name="api-webhook"),
    path("snapshots/<str:signed>", views.snapshot, name="api-snapshot"),
    path("schema", schema_view, name="api-schema"),
    path("docs", docs_view, name="api-docs"),
    re_path(r"^(?P<rest>.*)$", views.NotFoundView.as_view()),
]
