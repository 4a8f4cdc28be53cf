from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"
    verbose_name = "Proctoring"

    def ready(self) -> None:
        from proctoring.results import audit_signals

        audit_signals.connect()  # permission changes go to the audit log
