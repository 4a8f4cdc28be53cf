"""Signed, expiring tokens that let a non-browser camera client stream for one attempt."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from exams.models import Attempt

SALT = "proctoring.camera-token.v1"


@dataclass(frozen=True)
class TokenClaims:
    attempt_id: str
    user_id: int


class InvalidToken(Exception):
    """Forged, damaged or expired."""


def make_token(attempt: Attempt) -> str:
    return signing.dumps({"a": str(attempt.pk), "u": attempt.user_id}, salt=SALT, compress=False)


def read_token(token: str, max_age: int) -> TokenClaims:
    """The token's claims, if it is genuine and younger than `max_age` seconds."""
    try:
        claims = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidToken("token has expired") from None
    except signing.BadSignature:
        raise InvalidToken("token is not valid") from None
    if (
        not isinstance(claims, dict)
        or not isinstance(claims.get("a"), str)
        or not isinstance(claims.get("u"), int)
    ):
        raise InvalidToken("token is not valid")
    return TokenClaims(attempt_id=claims["a"], user_id=claims["u"])
