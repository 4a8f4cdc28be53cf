from django.urls import path

from exams import views

app_name = "exams"

urlpatterns = [
    path("", views.exam_list, name="list"),
    path("exams/<slug:slug>/start/", views.start, name="start"),
    path("attempts/<uuid:attempt_id>/", views.attempt_page, name="attempt"),
    path("attempts/<uuid:attempt_id>/consent/", views.consent, name="consent"),
    path("attempts/<uuid:attempt_id>/answers/", views.save_answer, name="answer"),
    path("attempts/<uuid:attempt_id>/state/", views.attempt_state, name="state"),
    path("attempts/<uuid:attempt_id>/submit/", views.submit, name="submit"),
    path(
        "attempts/<uuid:attempt_id>/messages/<int:message_id>/read/",
        views.message_read,
        name="message_read",
    ),
]
