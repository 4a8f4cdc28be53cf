"""Who may open a socket: the checks shared by the camera socket and the staff sockets (the
request's headers, its origin, a staff session), and the refusal they raise, with its close code."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from proctoring.core.protocol import CloseCode


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


def origin_allowed(origin: str | None, host: str | None = None) -> bool:
    """Whether a cookie-authenticated socket comes from a page of ours (cross-site WebSocket
    hijacking defence: browsers send cookies to any origin's sockets).

    The origin's host must be one of `ALLOWED_HOSTS`; and when the request's `Host` header is
    known (a browser always sends it), the origin must be that very host and port, as Django's
    CSRF check asks of a form's `Origin`, or one of `CSRF_TRUSTED_ORIGINS`: a page served on
    another port of the same host is another origin, yet the browser sends it this site's
    cookies (cookies do not tell ports apart).
    """
    if not origin:
        return False
    parts = urlsplit(origin)
    if not parts.hostname:
        return False
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not validate_host(parts.hostname, allowed):
        return False
    if host is None or origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    return parts.netloc.lower() == host.strip().lower()


def staff_refusal(scope: dict[str, Any]) -> StreamRefused | None:
    """Why a staff-only socket (admin events, proctor dashboard) refuses this connection, or
    None: a staff session from one of this site's pages."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return StreamRefused(CloseCode.UNAUTHENTICATED, "log in as staff")
    origin = scope_header(scope, b"origin")
    if not (user.is_active and user.is_staff) or not origin_allowed(origin, scope_header(scope, b"host")):
        return StreamRefused(CloseCode.FORBIDDEN, "staff only, from this site's pages")
    return None
