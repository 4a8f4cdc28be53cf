"""The proctor dashboard, under /proctor/ (staff only)."""

from django.urls import path

from proctoring.live import views as dashboard_views

urlpatterns = [
    path("", dashboard_views.exam_list, name="proctor-exams"),
    path("exams/<slug:slug>/", dashboard_views.exam_grid, name="proctor-exam"),
    path("attempts/<uuid:attempt_id>/", dashboard_views.attempt_timeline, name="proctor-attempt"),
    path("attempts/<uuid:attempt_id>/latest", dashboard_views.thumbnail, name="proctor-thumbnail"),
    path("incidents/<int:incident_id>/review/", dashboard_views.review, name="proctor-review"),
    path("frames/<int:frame_id>/snapshot", dashboard_views.snapshot, name="proctor-snapshot"),
]
