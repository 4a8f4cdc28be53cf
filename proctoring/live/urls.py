"""The proctor dashboard, under /proctor/ (proctors of the exam, superusers)."""

from django.urls import path

from proctoring.live import action_views, review_views, views

urlpatterns = [
    path("", views.exam_list, name="proctor-exams"),
    path("exams/<slug:slug>/", views.exam_grid, name="proctor-exam"),
    path("exams/<slug:slug>/review/", review_views.review_queue, name="proctor-review-queue"),
    path("exams/<slug:slug>/review/next/", review_views.next_unreviewed, name="proctor-review-next"),
    path("exams/<slug:slug>/attempts.csv", review_views.export_csv, name="proctor-export"),
    path("attempts/<uuid:attempt_id>/", views.attempt_timeline, name="proctor-attempt"),
    path("attempts/<uuid:attempt_id>/latest", views.thumbnail, name="proctor-thumbnail"),
    path("attempts/<uuid:attempt_id>/report/", review_views.report, name="proctor-report"),
    # The actions (POST): the grid's menu builds these from the timeline's URL and the name.
    path("attempts/<uuid:attempt_id>/message/", action_views.message, name="proctor-message"),
    path("attempts/<uuid:attempt_id>/pause/", action_views.pause, name="proctor-pause"),
    path("attempts/<uuid:attempt_id>/resume/", action_views.resume, name="proctor-resume"),
    path("attempts/<uuid:attempt_id>/extend/", action_views.extend, name="proctor-extend"),
    path("attempts/<uuid:attempt_id>/flag/", action_views.flag, name="proctor-flag"),
    path("attempts/<uuid:attempt_id>/review/", action_views.review_attempt, name="proctor-attempt-review"),
    # Last: it ends the attempt (the roles test walks these in order).
    path("attempts/<uuid:attempt_id>/terminate/", action_views.terminate, name="proctor-terminate"),
    path("incidents/<int:incident_id>/review/", views.review, name="proctor-review"),
    # By the frame's job id (random), not its row's sequential id.
    path("frames/<slug:job_id>/snapshot", views.snapshot, name="proctor-snapshot"),
]
