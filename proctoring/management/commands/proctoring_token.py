"""Starts (or resumes) an attempt and prints a camera client's token for it as one JSON line.

The gateway refuses a token for an attempt without consent, as it refuses the exam page: the
exam taker consents on the exam page, or staff who collected it otherwise record it here
(`--consented`)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exams.models import Exam
from exams.services import ExamClosed, give_consent, start_attempt
from proctoring.gateway.tokens import make_token


class Command(BaseCommand):
    help = (
        "Start an attempt for USER at EXAM_SLUG and print attempt_id, client_id, token, socket_path "
        "and ws_path as JSON."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("user", help="username")
        parser.add_argument("exam_slug", help="the exam's slug")
        parser.add_argument("--create", action="store_true", help="create the user and the exam if missing")
        parser.add_argument(
            "--consented",
            action="store_true",
            help="record that the exam taker agreed to be recorded (needed unless they did on the exam page)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username, slug = options["user"], options["exam_slug"]
        User = get_user_model()
        if options["create"]:
            user, _ = User.objects.get_or_create(username=username)
            exam, _ = Exam.objects.get_or_create(
                slug=slug, defaults={"title": slug.replace("-", " ").title()}
            )
        else:
            try:
                user = User.objects.get(username=username)
            except User.DoesNotExist:
                raise CommandError(f"no user {username!r} (use --create to make one)") from None
            try:
                exam = Exam.objects.get(slug=slug)
            except Exam.DoesNotExist:
                raise CommandError(f"no exam {slug!r} (use --create to make one)") from None
        try:
            attempt = start_attempt(user, exam)
        except ExamClosed as exc:
            raise CommandError(str(exc)) from None
        if options["consented"]:
            give_consent(attempt)
        elif attempt.consented_at is None:
            raise CommandError(
                f"attempt {attempt.pk} has no consent to proctoring: the exam taker gives it on the "
                "exam page, or pass --consented if they gave it otherwise"
            )
        token = make_token(attempt)
        self.stdout.write(
            json.dumps(
                {
                    "attempt_id": str(attempt.pk),
                    "client_id": attempt.client_id,
                    "user": user.get_username(),
                    "exam": exam.slug,
                    "token": token,
                    # Send the token as `Authorization: Bearer <token>` to `socket_path`: the
                    # query string of `ws_path` lands in access logs.
                    "socket_path": f"/ws/proctoring/{attempt.pk}/",
                    "ws_path": f"/ws/proctoring/{attempt.pk}/?token={token}",
                }
            )
        )
