"""Creates the demo exam with a few questions and one account per role (idempotent) and prints how
to log in: an exam taker, a proctor of the demo exam, a queue operator and a superuser."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from exams.models import Choice, Exam, Question

DEMO_EXAM = {
    "slug": "demo-exam",
    "title": "Demo exam",
    "description": "Three short questions; the camera streams while you answer.",
    "duration_minutes": 20,
    "attempts_allowed": 0,  # a demo: try it as often as you like
}
# (kind, prompt, points, [(choice, correct)])
DEMO_QUESTIONS = [
    (
        Question.Kind.SINGLE,
        "Which gas do plants take in to make sugar?",
        1,
        [("Oxygen", False), ("Carbon dioxide", True), ("Nitrogen", False)],
    ),
    (
        Question.Kind.MULTIPLE,
        "Which of these numbers are prime?",
        2,
        [("2", True), ("9", False), ("13", True), ("21", False)],
    ),
    (Question.Kind.TEXT, "In one or two sentences: why does the Moon show phases?", 2, []),
]
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
            slug=DEMO_EXAM["slug"], defaults={k: v for k, v in DEMO_EXAM.items() if k != "slug"}
        )
        if not exam.questions.exists():  # an exam someone has edited keeps its questions
            add_questions(exam)
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


def add_questions(exam: Exam) -> None:
    for position, (kind, prompt, points, choices) in enumerate(DEMO_QUESTIONS, start=1):
        question = Question.objects.create(
            exam=exam, position=position, kind=kind, prompt=prompt, points=points
        )
        Choice.objects.bulk_create(
            Choice(question=question, position=n, text=text, is_correct=correct)
            for n, (text, correct) in enumerate(choices, start=1)
        )
