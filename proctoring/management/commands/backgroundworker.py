"""`backgroundworker`: one plain RQ worker, with its scheduler, on every queue of small background
jobs (`settings.BACKGROUND_QUEUES`: the attempts' deadlines, the webhooks' deliveries); the
frames' queue has workers of its own (`rqworker proctoring`, whose worker class takes frames its
own way).

Its jobs are few and short, so one process serves every such queue; a queue added to
`BACKGROUND_QUEUES` is served by it with no change to the deployment.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from proctoring.management.commands.rqworker import Command as RQWorkerCommand
from proctoring.webhooks import delivery


class Command(RQWorkerCommand):
    help = (
        "Runs a plain RQ worker, with the scheduler, on settings.BACKGROUND_QUEUES (the exams' deadlines, "
        "the webhooks), or on the queues named."
    )

    def handle(self, *args: str, **options: Any) -> None:
        # Webhook deliveries queued while Redis was away, and no event since to send them.
        delivery.requeue_lost_now_and_then()
        options["worker_class"] = options.get("worker_class") or "rq.Worker"
        super().handle(*(args or settings.BACKGROUND_QUEUES), **options)
