"""Who may stream frames for an attempt: its owner with a session from an allowed origin, or a
camera client with a token signed for that attempt. Plain functions; the consumer calls them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http.request import validate_host

from exams.models import Attempt
from proctoring.protocol import CloseCode
from proctoring.tokens import InvalidToken, read_token


@dataclass(frozen=True)
class StreamIdentity:
    attempt_id: str
    client_id: str
    user_id: int
    via: str  # "session" or "token"


class StreamRefused(Exception):
    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


def scope_header(scope: dict[str, Any], name: bytes) -> str | None:
    """A request header of an ASGI scope, decoded as HTTP headers are (latin-1)."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def origin_allowed(origin: str | None) -> bool:
    """Whether a cookie-authenticated socket comes from a page of ours (cross-site WebSocket
    hijacking defence: browsers send cookies to any origin's sockets)."""
    if not origin:
        return False
    host = urlsplit(origin).hostname
    if not host:
        return False
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, allowed)


def staff_refusal(scope: dict[str, Any]) -> StreamRefused | None:
    """Why a staff-only socket (admin events, proctor dashboard) refuses this connection, or
    None: a staff session from one of this site's pages."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return StreamRefused(CloseCode.UNAUTHENTICATED, "log in as staff")
    if not (user.is_active and user.is_staff) or not origin_allowed(scope_header(scope, b"origin")):
        return StreamRefused(CloseCode.FORBIDDEN, "staff only, from this site's pages")
    return None


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
