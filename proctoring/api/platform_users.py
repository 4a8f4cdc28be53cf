"""A platform's users as Django users: one per (key's platform, external id), made on first
use. The username is `ext-` and 32 hex of SHA-256(platform, id): deterministic, 36 characters
whatever the id, and no platform's ids can collide with another's or with a person's account
(which cannot log in with it: the password is unusable)."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from proctoring.models import ExternalUser

USERNAME_PREFIX = "ext-"
ID_MAX = 150
NAME_MAX = 150


def username_for(platform: str, external_id: str) -> str:
    digest = hashlib.sha256(f"{platform}\0{external_id}".encode()).hexdigest()
    return f"{USERNAME_PREFIX}{digest[:32]}"


def locked(platform: str, external_id: str, display_name: str = "") -> ExternalUser:
    """The platform's user of that id, made if new, its row locked until the caller's transaction
    ends (call inside one): two calls for one user wait for each other."""
    link = _select(platform, external_id)
    if link is None:
        try:
            with transaction.atomic():
                user = User(username=username_for(platform, external_id), first_name=display_name[:NAME_MAX])
                user.set_unusable_password()
                user.save()
                ExternalUser.objects.create(platform=platform, external_id=external_id, user=user)
        except IntegrityError:  # made by a concurrent call in between
            pass
        link = _select(platform, external_id)
        assert link is not None
    if display_name and link.user.first_name != display_name[:NAME_MAX]:
        User.objects.filter(pk=link.user_id).update(first_name=display_name[:NAME_MAX])
        link.user.first_name = display_name[:NAME_MAX]
    return link


def _select(platform: str, external_id: str) -> ExternalUser | None:
    return (
        ExternalUser.objects.select_for_update()
        .select_related("user")
        .filter(platform=platform, external_id=external_id)
        .first()
    )
