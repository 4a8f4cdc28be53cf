"""Makes a REST API key and prints it once, as the last line of the output (keep it: only its
hash is stored)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from exams.models import Exam
from proctoring.api import keys
from proctoring.results import audit


class Command(BaseCommand):
    help = "Make an API key named NAME for the exams given (--exam SLUG, repeatable) or all (--all-exams)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="who holds the key (the audit log names its calls by it)")
        parser.add_argument("--exam", action="append", default=[], metavar="SLUG", help="an exam it reaches")
        parser.add_argument("--all-exams", action="store_true", help="reach every exam, present and future")
        parser.add_argument("--platform", default="", help="whose users it speaks for (default: the name)")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs: list[str] = options["exam"]
        exams = list(Exam.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {exam.slug for exam in exams})
        if missing:
            raise CommandError(f"no exam {', '.join(repr(slug) for slug in missing)}")
        if not exams and not options["all_exams"]:
            self.stderr.write("warning: the key reaches no exam (give --exam SLUG or --all-exams)")
        try:
            issued = keys.issue(
                options["name"], exams=exams, all_exams=options["all_exams"], platform=options["platform"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        key = issued.key
        audit.record(
            None, audit.Action.API_KEY_CREATED, key, actor_name="manage.py proctoring_api_key",
            name=key.name, prefix=key.prefix, exams=slugs, all_exams=key.all_exams,
        )  # fmt: skip
        scope = "all exams" if key.all_exams else ", ".join(slugs) or "no exam"
        self.stdout.write(
            f"API key {key.name!r} (pk_{key.prefix}_…) for platform {key.platform!r}, reaching {scope}."
        )
        self.stdout.write("It is shown once, below; only its hash is kept:")
        self.stdout.write(issued.plaintext)
