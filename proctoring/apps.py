from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"
    verbose_name = "Proctoring"
