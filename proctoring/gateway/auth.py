"""Who may stream frames for an attempt: its owner with a session from an allowed origin, or a
camera client with a token signed for that attempt. Plain functions; the consumer calls them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from exams.models import Attempt
from proctoring.core.access import StreamRefused, origin_allowed
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import InvalidToken, read_token


@dataclass(frozen=True)
class StreamIdentity:
    attempt_id: str
    client_id: str
    user_id: int
    via: str  # "session" or "token"


def authorize(
    attempt_id: str, user: AbstractBaseUser | AnonymousUser | None, token: str | None, origin: str | None
) -> StreamIdentity:
    """The identity to stream as, or `StreamRefused` with the close code to answer.

    Another user's attempt and an attempt that does not exist are refused alike (4403), so the
    answer tells nothing about which attempts exist.
    """
    if token:
        try:
            claims = read_token(token, settings.PROCTORING_TOKEN_MAX_AGE)
        except InvalidToken as exc:
            raise StreamRefused(CloseCode.UNAUTHENTICATED, str(exc)) from None
        if claims.attempt_id != attempt_id:
            raise StreamRefused(CloseCode.FORBIDDEN, "token is for another attempt")
        attempt = _open_attempt(attempt_id)
        if attempt.user_id != claims.user_id:
            raise StreamRefused(CloseCode.FORBIDDEN, "token is for another user")
        return StreamIdentity(str(attempt.pk), attempt.client_id, attempt.user_id, "token")

    if user is None or not user.is_authenticated:
        raise StreamRefused(CloseCode.UNAUTHENTICATED, "log in, or pass ?token= for a camera client")
    if not origin_allowed(origin):
        raise StreamRefused(CloseCode.FORBIDDEN, f"origin {origin!r} is not allowed for a session")
    attempt = _open_attempt(attempt_id)
    if attempt.user_id != user.pk:
        raise StreamRefused(CloseCode.FORBIDDEN, "not your attempt")
    # The exam page is where consent is asked; a camera client's token is minted by staff
    # (`proctoring_token`), who answer for it.
    if attempt.consented_at is None:
        raise StreamRefused(CloseCode.FORBIDDEN, "consent to proctoring has not been given on the exam page")
    return StreamIdentity(str(attempt.pk), attempt.client_id, attempt.user_id, "session")


def _open_attempt(attempt_id: str) -> Attempt:
    try:
        attempt = Attempt.objects.get(pk=uuid.UUID(attempt_id))
    except (ValueError, Attempt.DoesNotExist):
        raise StreamRefused(CloseCode.FORBIDDEN, "no such attempt for you") from None
    if attempt.ended_at is not None:
        raise StreamRefused(CloseCode.FORBIDDEN, "this attempt has ended")
    return attempt
