"""API keys: made, checked and revoked here. A key reads `pk_<prefix>_<secret>`: the prefix (8
hex) names the key in lists and finds its row; only the SHA-256 of the secret (32 random bytes,
URL-safe base64) is stored, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from exams.models import Exam
from proctoring.models import ApiKey

PREFIX_BYTES = 4
SECRET_BYTES = 32
# last_used_at is written at most this often per key, not on every call.
TOUCH_EVERY = timedelta(minutes=1)
KEY_PATTERN = re.compile(r"^pk_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Issued:
    key: ApiKey
    plaintext: str  # shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(
    name: str,
    *,
    exams: Iterable[Exam] = (),
    all_exams: bool = False,
    platform: str = "",
    created_by: Any = None,
) -> Issued:
    """Makes a key; the plaintext in the answer is the only copy there will be.

    Args:
        platform: whose users the key speaks for; keys of one platform share them. Default:
            the name, slugified.
    """
    name = name.strip()[:100]
    if not name:
        raise ValueError("an API key needs a name")
    with transaction.atomic():
        key = ApiKey(name=name, platform=platform_of(platform, name), all_exams=all_exams)
        key.created_by = created_by if getattr(created_by, "pk", None) else None
        plaintext = fill(key)
        key.save()
        key.exams.set(list(exams))
    return Issued(key, plaintext)


def platform_of(platform: str, name: str) -> str:
    return slugify(platform or name)[:50] or "platform"


def fill(key: ApiKey) -> str:
    """Gives an unsaved key its prefix and hashed secret; returns the plaintext key."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    while True:  # 2^32 prefixes: a clash is rare, but the column is unique
        prefix = secrets.token_hex(PREFIX_BYTES)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key.prefix, key.secret_sha256 = prefix, digest(secret)
    return f"pk_{prefix}_{secret}"


def authenticate(presented: str) -> ApiKey | None:
    """The active key `presented` is, or None (malformed, unknown, wrong secret or revoked:
    one answer for all, so a caller learns nothing about which prefixes exist)."""
    match = KEY_PATTERN.match(presented.strip())
    if match is None:
        return None
    prefix, secret = match.groups()
    key = ApiKey.objects.filter(prefix=prefix).first()
    # Compared even for an unknown prefix, so the time taken does not say which exist.
    stored = key.secret_sha256 if key is not None else "0" * 64
    if not hmac.compare_digest(stored, digest(secret)) or key is None or key.revoked_at is not None:
        return None
    touch(key)
    return key


def touch(key: ApiKey) -> None:
    """Records the key's use, at most once per `TOUCH_EVERY` (a write per call would be a write
    per camera poll)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


def revoke(key: ApiKey) -> bool:
    """Revokes the key (its next call is refused); False if it already was."""
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    return bool(changed)


def reaches(key: ApiKey, exam: Exam) -> bool:
    """Whether the key's scope holds the exam."""
    return key.all_exams or key.exams.filter(pk=exam.pk).exists()
