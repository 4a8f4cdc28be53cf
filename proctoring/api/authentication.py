"""Who calls: `Authorization: Bearer pk_…` names an active API key (`keys.authenticate`), and
`HasApiKey` lets in only such calls. The request's user stays anonymous: a key is no account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from proctoring.api import keys
from proctoring.models import ApiKey

MISSING = "send an API key: Authorization: Bearer pk_<prefix>_<secret>"
REFUSED = "the API key is not valid (unknown, mistyped or revoked)"


class BearerKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # HasApiKey answers 401 with MISSING
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise exceptions.AuthenticationFailed(MISSING)
        key = keys.authenticate(credentials)
        if key is None:
            raise exceptions.AuthenticationFailed(REFUSED)
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'  # makes DRF answer 401, not 403, to a call without a key


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated(MISSING)
        return True


def key_of(request: Request) -> ApiKey:
    key = request.auth
    assert isinstance(key, ApiKey), "a view of the API is reached only with a key (HasApiKey)"
    return key


class BearerKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The key, as the OpenAPI schema names it (drf-spectacular finds this by its target class)."""

    target_class = BearerKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "pk_<prefix>_<secret>"}
