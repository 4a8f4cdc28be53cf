"""The API's one error shape, and its codes:

    {"error": {"code": "<code>", "message": "<for a person>", "field": "<request field, if one>"}}

Every refusal of every endpoint takes it, including DRF's own (authentication, parsing,
throttling, validation): `exception_handler` maps them here, by `CODES`.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class Code:
    UNAUTHENTICATED = "unauthenticated"  # 401: no key, a malformed, unknown or revoked one
    EXAM_OUT_OF_SCOPE = "exam_out_of_scope"  # 403: an exam the key does not reach, or none of that slug
    NOT_FOUND = "not_found"  # 404: no such attempt among the key's exams', or no such path
    INVALID = "invalid"  # 400: a field is missing, too long or of the wrong type (`field` names it)
    MALFORMED = "malformed"  # 400: the body is not JSON
    EXAM_CLOSED = (
        "exam_closed"  # 409: the exam takes no new attempt now (inactive, before or after its window)
    )
    TRANSITION_REFUSED = (
        "transition_refused"  # 409: the attempt's state does not allow it (submit while paused)
    )
    TOO_MANY_WEBHOOKS = "too_many_webhooks"  # 409: the key has PROCTORING_WEBHOOKS_PER_KEY endpoints
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    NOT_ACCEPTABLE = "not_acceptable"  # 406
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415: send application/json
    RATE_LIMITED = "rate_limited"  # 429: the key's calls per minute are spent; see Retry-After
    UNAVAILABLE = "unavailable"  # 503: the site's Redis cannot be reached for now; see Retry-After
    SERVER_ERROR = "server_error"  # 500


UNAVAILABLE_RETRY_AFTER = 5  # seconds: Sentinel fails over within that, a restart shortly after

ALL_CODES = [value for name, value in vars(Code).items() if name.isupper()]


class ApiError(exceptions.APIException):
    """A refusal of ours, with its code, status and (optionally) the field at fault."""

    def __init__(self, status_code: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.error_code = code
        self.field = field


# DRF's exceptions, by class, to ours.
CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, Code.UNAUTHENTICATED),
    (exceptions.AuthenticationFailed, Code.UNAUTHENTICATED),
    (exceptions.PermissionDenied, Code.EXAM_OUT_OF_SCOPE),
    (exceptions.NotFound, Code.NOT_FOUND),
    (exceptions.ParseError, Code.MALFORMED),
    (exceptions.ValidationError, Code.INVALID),
    (exceptions.MethodNotAllowed, Code.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, Code.NOT_ACCEPTABLE),
    (exceptions.UnsupportedMediaType, Code.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.Throttled, Code.RATE_LIMITED),
]


def body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every refusal in the one shape; anything else (a bug) is logged
    with its traceback and answered 500 `server_error` in the same shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, redis.RedisError):
        # Redis away (restarting, failing over): a moment's outage, not a bug of the call.
        logger.warning("the API could not reach Redis: %s", exc)
        return Response(
            body(Code.UNAVAILABLE, "the service is unavailable for a moment; try again shortly"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        )
    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.error("the API failed in %s", type(view).__name__, exc_info=exc)
        return Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        payload = body(exc.error_code, str(exc.detail), exc.field)
    elif isinstance(exc, exceptions.ValidationError):
        field, message = _first_problem(exc.detail)
        payload = body(Code.INVALID, message, field)
    else:
        code = next((code for kind, code in CODES if isinstance(exc, kind)), Code.SERVER_ERROR)
        payload = body(code, _text(exc.detail))
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(payload, status=exc.status_code, headers=headers)


def _first_problem(detail: Any, path: str = "") -> tuple[str | None, str]:
    """The first field at fault ("a.b" when nested) and its first message."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = str(key) if key != "non_field_errors" else ""
            field, message = _first_problem(value, f"{path}.{name}" if path and name else path or name)
            return field, message
    if isinstance(detail, list) and detail:
        return _first_problem(detail[0], path)
    return (path or None), _text(detail)


def _text(detail: Any) -> str:
    if isinstance(detail, list | dict):
        return "; ".join(str(item) for item in (detail.values() if isinstance(detail, dict) else detail))
    return str(detail)


def server_error_body() -> dict[str, Any]:
    return body(Code.SERVER_ERROR, "the server failed to answer; the error is logged")
