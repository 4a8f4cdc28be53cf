"""The proctor dashboard, under /proctor/ (staff only)."""

from django.urls import path

from proctoring.live import views

urlpatterns = [
    path("", views.exam_list, name="proctor-exams"),
    path("exams/<slug:slug>/", views.exam_grid, name="proctor-exam"),
    path("attempts/<uuid:attempt_id>/", views.attempt_timeline, name="proctor-attempt"),
    path("attempts/<uuid:attempt_id>/latest", views.thumbnail, name="proctor-thumbnail"),
    path("incidents/<int:incident_id>/review/", views.review, name="proctor-review"),
    path("frames/<int:frame_id>/snapshot", views.snapshot, name="proctor-snapshot"),
]
