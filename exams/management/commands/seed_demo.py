"""Creates the demo exam and one account per role (idempotent) and prints how to log in: an exam
taker, a proctor of the demo exam, a queue operator and a superuser."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from exams.models import Exam

DEMO_EXAM = {"slug": "demo-exam", "title": "Demo exam", "description": "Try the camera stream."}
QUEUE_PERMISSIONS = ("view_queue", "operate_queue")  # of the proctoring app
DEMO_USERS = [
    # (username, password, role)
    ("student", "student-demo-pass", "exam taker"),
    ("proctor", "proctor-demo-pass", "proctor"),
    ("operator", "operator-demo-pass", "operator"),
    ("admin", "admin-demo-pass", "superuser"),
]


class Command(BaseCommand):
    help = "Create a demo exam, an exam taker, its proctor, a queue operator and a superuser."

    def handle(self, *args: Any, **options: Any) -> None:
        exam, _ = Exam.objects.get_or_create(
            slug=DEMO_EXAM["slug"],
            defaults={"title": DEMO_EXAM["title"], "description": DEMO_EXAM["description"]},
        )
        User = get_user_model()
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
            # Each run puts the role right, so a database seeded before the roles gets them too.
            user.is_staff = role != "exam taker"
            user.is_superuser = role == "superuser"
            user.save()
            if role == "proctor":
                exam.proctors.add(user)
            if role == "operator":
                user.user_permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label="proctoring", codename__in=QUEUE_PERMISSIONS
                    )
                )
            state = "created" if created else "exists; password unchanged"
            self.stdout.write(f"  {role:11} {username} / {password}   ({state})")
