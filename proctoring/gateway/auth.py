"""Who may stream frames for an attempt: its owner with a session from an allowed origin, or a
camera client with a token signed for that attempt. Plain functions; the consumer calls them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from exams import lifecycle
from exams.models import Attempt
from proctoring.core.access import StreamRefused, origin_allowed
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import InvalidToken, read_token
from proctoring.results import attempt_control

# One answer for every token that does not let its bearer in (forged, expired, another
# attempt's, another user's): which of them it was would help whoever is guessing.
TOKEN_REFUSED = "the token is not valid for this attempt"


@dataclass(frozen=True)
class StreamIdentity:
    attempt_id: str
    client_id: str
    user_id: int
    via: str  # "session" or "token"


def open_stream(
    attempt_id: str,
    user: AbstractBaseUser | AnonymousUser | None,
    token: str | None,
    origin: str | None,
    host: str | None = None,
) -> tuple[StreamIdentity, attempt_control.Greeting]:
    """The identity to stream as, and what the socket is told first (its attempt's state and
    unread messages); or `StreamRefused` with the close code to answer.

    One read of the attempt serves both (and a session's user is read in the same call,
    `SessionUserMiddleware`): a socket's connect is one trip to the database thread, which the
    cameras of an exam that starts all connect through at once.

    Another user's attempt and an attempt that does not exist are refused alike (4403), so the
    answer tells nothing about which attempts exist. A session must come from a page of this
    site (`origin_allowed`: the `Origin` against the request's `host`); a token needs no origin,
    being the credential itself (another platform's page embeds the camera with one). A token
    and a session pass the same checks of the attempt's state (`stream_refusal`), so ending an
    attempt revokes its tokens; an attempt whose time is up is timed out first
    (`lifecycle.enforce_deadline`), and refused.
    """
    if token:
        attempt = _token_attempt(attempt_id, token)
        via = "token"
    else:
        if user is None or not user.is_authenticated:
            raise StreamRefused(
                CloseCode.UNAUTHENTICATED, "log in, or send a camera token (Authorization: Bearer)"
            )
        if not origin_allowed(origin, host):
            raise StreamRefused(CloseCode.FORBIDDEN, f"origin {origin!r} is not allowed for a session")
        owned = _attempt(attempt_id)
        if owned is None or owned.user_id != user.pk:
            raise StreamRefused(CloseCode.FORBIDDEN, "no such attempt for you")
        attempt, via = owned, "session"
    # The clock is the server's: an attempt past its deadline ends here if its job was late.
    attempt = lifecycle.enforce_deadline(attempt)
    refusal = stream_refusal(attempt)
    if refusal:
        raise StreamRefused(CloseCode.FORBIDDEN, refusal)
    identity = StreamIdentity(str(attempt.pk), attempt.client_id, attempt.user_id, via)
    return identity, attempt_control.greeting_of(attempt)


def presented_token(authorization: str | None, query_string: bytes) -> str | None:
    """The camera token a client sent: in `Authorization: Bearer <token>` (kept out of access
    logs, which record the URL), else in `?token=` (older clients), else None.

    Raises:
        StreamRefused: an Authorization header that is not a bearer token.
    """
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise StreamRefused(
                CloseCode.UNAUTHENTICATED,
                f"the Authorization header must be 'Bearer <token>', got a {scheme[:20]!r} one",
            )
        return credentials.strip()
    tokens = parse_qs(query_string.decode("latin-1")).get("token")
    return tokens[0] if tokens else None


def stream_refusal(attempt: Attempt) -> str | None:
    """Why an attempt may not stream now, or None: its user is active, its exam is open, it has
    not ended, and its exam taker consented on the exam page."""
    if not attempt.user.is_active:
        return "this account is disabled"
    if not attempt.exam.is_active:
        return "this exam is closed"
    if attempt.ended_at is not None:
        return "this attempt has ended"
    if attempt.consented_at is None:
        return "consent to proctoring has not been given on the exam page"
    return None


def _token_attempt(attempt_id: str, token: str) -> Attempt:
    """The attempt a genuine, unexpired token was signed for, if it is the one in the URL."""
    try:
        claims = read_token(token, settings.PROCTORING_TOKEN_MAX_AGE)
    except InvalidToken:
        raise StreamRefused(CloseCode.UNAUTHENTICATED, TOKEN_REFUSED) from None
    attempt = _attempt(attempt_id) if claims.attempt_id == attempt_id else None
    if attempt is None or attempt.user_id != claims.user_id:
        raise StreamRefused(CloseCode.UNAUTHENTICATED, TOKEN_REFUSED)
    return attempt


def _attempt(attempt_id: str) -> Attempt | None:
    try:
        return Attempt.objects.select_related("user", "exam").get(pk=uuid.UUID(attempt_id))
    except (ValueError, Attempt.DoesNotExist):
        return None


class SessionUserMiddleware(BaseMiddleware):  # type: ignore[misc]
    """Channels' `AuthMiddleware` for the camera socket: `scope["user"]` is the session's user,
    read when first used (in `open_stream`'s trip to the database thread), not before the
    consumer runs. A camera with a token never needs it, and one with a session reads it in
    the same trip as its attempt: one trip per connect, not two."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        request = HttpRequest()  # what Django's `get_user` reads: the session
        request.session = scope["session"]
        scope = dict(scope, user=SimpleLazyObject(lambda: auth.get_user(request)))
        return await super().__call__(scope, receive, send)


def camera_auth(inner: Any) -> Any:
    """The camera socket's middleware: cookie, session, and its user read in `open_stream`."""
    return CookieMiddleware(SessionMiddleware(SessionUserMiddleware(inner)))
