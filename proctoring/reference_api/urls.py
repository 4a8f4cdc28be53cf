from django.urls import path

from proctoring.reference_api.views import analyze_view

urlpatterns = [path("v1/analyze", analyze_view, name="reference-api-analyze")]
