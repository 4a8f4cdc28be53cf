"""Creates the demo exam, an exam taker and a staff user (idempotent) and prints how to log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from exams.models import Exam

DEMO_EXAM = {"slug": "demo-exam", "title": "Demo exam", "description": "Try the camera stream."}
DEMO_USERS = [
    # (username, password, is_staff)
    ("student", "student-demo-pass", False),
    ("proctor", "proctor-demo-pass", True),
]


class Command(BaseCommand):
    help = "Create a demo exam, a demo exam taker and a staff user."

    def handle(self, *args: Any, **options: Any) -> None:
        Exam.objects.get_or_create(
            slug=DEMO_EXAM["slug"],
            defaults={"title": DEMO_EXAM["title"], "description": DEMO_EXAM["description"]},
        )
        User = get_user_model()
        for username, password, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = is_staff
                user.save()
            role = "staff (admin)" if is_staff else "exam taker"
            state = "created" if created else "exists; password unchanged"
            self.stdout.write(f"  {role:14} {username} / {password}   ({state})")
