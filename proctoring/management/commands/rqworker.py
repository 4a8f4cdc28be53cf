"""`rqworker` that always runs RQ's scheduler, so delayed retries happen with the plain command.

django-rq's own command runs scheduled jobs (our retries with backoff) only with
`--with-scheduler`; forgetting that flag would leave every retried frame waiting for ever.
Pass `--without-scheduler` for workers that should not take part in scheduling.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django_rq.management.commands.rqworker import Command as DjangoRQWorkerCommand


class Command(DjangoRQWorkerCommand):
    help = "Runs RQ workers (with the scheduler, unless --without-scheduler) on the given queues."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--without-scheduler",
            action="store_true",
            dest="without_scheduler",
            default=False,
            help="Do not run RQ's scheduler in this worker (delayed retries then need another worker).",
        )

    def handle(self, *args: str, **options: Any) -> None:
        options["with_scheduler"] = not options.pop("without_scheduler", False)
        super().handle(*args, **options)
