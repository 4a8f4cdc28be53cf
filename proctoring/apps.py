from django.apps import AppConfig
from django.db.models.signals import pre_delete


class ProctoringConfig(AppConfig):
    name = "proctoring"
    verbose_name = "Proctoring"

    def ready(self) -> None:
        from exams.models import Attempt
        from proctoring.live import dashboard
        from proctoring.results import attempt_control, audit_signals, erasure
        from proctoring.webhooks import events as webhook_events

        # However an attempt is deleted (the admin, the ORM, its user's or exam's delete), its
        # snapshots and Redis data go once the delete commits.
        pre_delete.connect(erasure.on_attempt_delete, sender=Attempt, dispatch_uid="proctoring-erasure")
        audit_signals.connect()  # permission changes go to the audit log
        # Before attempt_control, so that an attempt's end is sent before its incidents' closing.
        webhook_events.connect()  # attempts' and incidents' changes reach the platforms' webhooks
        attempt_control.connect()  # ends close incidents; changes reach the exam page
        dashboard.connect()  # changes reach the proctors' grids
