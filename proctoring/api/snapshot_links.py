"""Short-lived signed links to incident snapshots, for a platform to show without a session:
`/api/v1/snapshots/<signed>` where the signed part names the frame and the key that asked,
and expires `PROCTORING_API_SNAPSHOT_LINK_SECONDS` after it was made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

SALT = "proctoring.api.snapshot-link.v1"


class InvalidLink(Exception):
    """Forged, damaged or expired."""


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkClaims:
    job_id: str
    key_id: int


def make(job_id: str, key_id: int, now: datetime | None = None) -> Link:
    signed = signing.dumps({"j": job_id, "k": key_id}, salt=SALT, compress=False)
    lifetime = timedelta(seconds=settings.PROCTORING_API_SNAPSHOT_LINK_SECONDS)
    return Link(reverse("api-snapshot", args=[signed]), (now or timezone.now()) + lifetime)


def read(signed: str) -> LinkClaims:
    """The link's claims, if it is genuine and unexpired."""
    try:
        claims = signing.loads(signed, salt=SALT, max_age=settings.PROCTORING_API_SNAPSHOT_LINK_SECONDS)
    except signing.SignatureExpired:
        raise InvalidLink("the link has expired") from None
    except signing.BadSignature:
        raise InvalidLink("the link is not valid") from None
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("j"), str)
        or not isinstance(claims.get("k"), int)
    ):
        raise InvalidLink("the link is not valid")
    return LinkClaims(claims["j"], claims["k"])
