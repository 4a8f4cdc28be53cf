"""Sends one test frame through the pipeline and reports its job id and what became of it."""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from proctoring.core.exceptions import AdmissionError
from proctoring.ops import selftest


class Command(BaseCommand):
    help = (
        "Enqueue a test frame for the test client, print its job id, then wait for its outcome "
        "(delivered with the API's answer, or failed with the error). Exits 1 unless delivered."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--priority", action="store_true", help="queue it ahead of normal frames")
        parser.add_argument(
            "--delay", type=float, default=0, metavar="SECONDS", help="hold it back this long first"
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=30,
            metavar="SECONDS",
            help="how long to wait for the outcome after it is due (default 30; 0: do not wait)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["wait"] < 0:
            raise CommandError("--wait takes a number of seconds, 0 or more")
        started = time.monotonic()
        try:
            job_id, attempt = selftest.enqueue_test_frame(options["priority"], options["delay"])
        except (AdmissionError, ValueError) as exc:
            raise CommandError(f"the test frame was not queued: {exc}") from exc
        if not options["json"]:
            self.stdout.write(f"queued test frame: job {job_id} (client {attempt.client_id})")
        outcome = selftest.outcome(job_id)
        if options["wait"]:
            outcome = selftest.wait_for_outcome(job_id, options["delay"] + options["wait"])
        elapsed = time.monotonic() - started
        if options["json"]:
            report = {"job_id": job_id, "client_id": attempt.client_id, "seconds": round(elapsed, 3)}
            self.stdout.write(json.dumps({**report, **outcome.as_dict()}))
        else:
            self.stdout.write(f"outcome after {elapsed:.2f}s: {outcome.state}: {outcome.detail}")
            if outcome.result is not None:
                self.stdout.write(json.dumps(outcome.result, indent=2))
        if options["wait"] and outcome.state != "delivered":
            if not outcome.final:
                raise CommandError(
                    f"no outcome within {options['wait']:g}s (still {outcome.state}): is a worker "
                    "running? (python manage.py rqworker proctoring)"
                )
            raise CommandError(f"the test frame was not delivered: {outcome.state}")
