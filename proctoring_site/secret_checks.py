"""Refuses secrets anyone could know: a placeholder shipped in an example, a short value, Django's
own "django-insecure-" key. With a known DJANGO_SECRET_KEY anyone can sign a session or a camera
token for any attempt, and a known stats token reads the queue's figures, so start-up stops
instead of warning (Django's W009 only speaks under `check --deploy`). Messages name the variable
and never repeat the value: it may be a real secret that is merely too short."""

from __future__ import annotations

from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

STATS_TOKEN_MIN_LENGTH = 16

# Words that mark a value as an example's or a tutorial's, never a secret: what deploy/'s examples,
# docker-compose's env file and the Dockerfile ship, and what a hurried operator types instead.
_PLACEHOLDER_MARKS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "your-secret",
    "secret-key-here",
    "insecure",
    "do-not-use",
    "collectstatic-only",
    "example",
)


def is_placeholder(value: str) -> bool:
    """Whether `value` reads like an example's placeholder rather than a random secret."""
    lowered = value.lower()
    return any(mark in lowered for mark in _PLACEHOLDER_MARKS)


def check_secret_key(value: str) -> None:
    """Raises ImproperlyConfigured unless DJANGO_SECRET_KEY is fit to sign sessions and camera
    tokens in production: set, 50+ characters of some variety, no placeholder (Django's own
    thresholds, those of its W009 check)."""
    advice = 'generate one: python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
    if not value:
        raise ImproperlyConfigured(f"DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off; {advice}")
    if value.startswith(SECRET_KEY_INSECURE_PREFIX) or is_placeholder(value):
        raise ImproperlyConfigured(f"DJANGO_SECRET_KEY is a well-known placeholder, not a secret; {advice}")
    if len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY must be at least {SECRET_KEY_MIN_LENGTH} characters with at least "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones, got {len(value)} characters; {advice}"
        )


def check_stats_token(value: str) -> None:
    """Raises ImproperlyConfigured for a PROCTORING_STATS_TOKEN that is set but short or a
    placeholder (empty is fine: staff logins only)."""
    if not value:
        return
    if is_placeholder(value):
        raise ImproperlyConfigured(
            "PROCTORING_STATS_TOKEN is a well-known placeholder, not a secret: set a random one "
            '(python3 -c "import secrets; print(secrets.token_urlsafe(32))") or leave it empty'
        )
    if len(value) < STATS_TOKEN_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"PROCTORING_STATS_TOKEN must be at least {STATS_TOKEN_MIN_LENGTH} characters (or empty), "
            f"got {len(value)}"
        )
