"""The staff accounts of each role, as the admin would make them: a proctor of some exams, a queue
operator (view, or view and operate), a superuser, and staff with no permission at all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from exams.models import Exam

PASSWORD = "staff-pass-123"


def bare_staff(username: str = "nobody") -> Any:
    """Staff with no permission and no exam: may log in to the admin and do nothing there."""
    return get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)


def proctor_of(*exams: Exam, username: str = "proctor") -> Any:
    user = bare_staff(username)
    for exam in exams:
        exam.proctors.add(user)
    return user


def operator(username: str = "operator", operate: bool = True) -> Any:
    user = bare_staff(username)
    codenames = ["view_queue", "operate_queue"] if operate else ["view_queue"]
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="proctoring", codename__in=codenames)
    )
    return user


def superuser(username: str = "admin") -> Any:
    return get_user_model().objects.create_superuser(username, password=PASSWORD)
