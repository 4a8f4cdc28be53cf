"""The proctor dashboard, under /proctor/ (proctors of the exam, superusers)."""

from django.urls import path

from proctoring.live import views

urlpatterns = [
    path("", views.exam_list, name="proctor-exams"),
    path("exams/<slug:slug>/", views.exam_grid, name="proctor-exam"),
    path("attempts/<uuid:attempt_id>/", views.attempt_timeline, name="proctor-attempt"),
    path("attempts/<uuid:attempt_id>/latest", views.thumbnail, name="proctor-thumbnail"),
    path("incidents/<int:incident_id>/review/", views.review, name="proctor-review"),
    # By the frame's job id (random), not its row's sequential id.
    path("frames/<slug:job_id>/snapshot", views.snapshot, name="proctor-snapshot"),
]
