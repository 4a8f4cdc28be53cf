from django.urls import path

from exams import views

app_name = "exams"

urlpatterns = [
    path("", views.exam_list, name="list"),
    path("exams/<slug:slug>/start/", views.start, name="start"),
    path("attempts/<uuid:attempt_id>/", views.attempt_page, name="attempt"),
    path("attempts/<uuid:attempt_id>/consent/", views.consent, name="consent"),
]
