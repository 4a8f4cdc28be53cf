"""Top-level URLs: exam pages, accounts, admin and the reference proctoring API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reference-api/", include("proctoring.reference_api.urls")),
    path("", include("exams.urls")),
]
