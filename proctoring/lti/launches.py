"""The two steps of an LTI 1.3 launch, through PyLTI1p3: the OIDC login (the platform names its
user; the tool answers with a redirect to the platform's authentication endpoint carrying a state
and a nonce) and the launch (the platform posts a signed id_token back; it is verified before
anything of it is believed). Every refusal is a `LaunchRefused` with the status to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from django.http import HttpRequest, HttpResponse
from pylti1p3.contrib.django.message_launch import DjangoMessageLaunch
from pylti1p3.contrib.django.oidc_login import DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.contrib.django.session import DjangoSessionService
from pylti1p3.exception import LtiException, OIDCException

from proctoring.lti import storage
from proctoring.lti.models import Platform
from proctoring.lti.storage import RedisLaunchStorage
from proctoring.lti.tool_config import PlatformToolConf, platform_of

# A launch waits for the platform's key set: a few seconds at most.
JWKS_TIMEOUT = 5.0
# How long a login's nonce waits for its launch (the state cookie lives 5 minutes).
NONCE_SECONDS = 600
# PyJWT checks the signature and, with these, that the token has not expired and says when it was
# issued. The audience is the registration's client id, which the library matches itself.
# (The library annotates the options as booleans only; PyJWT takes the list.)
VERIFY_OPTIONS: Any = {"verify_aud": False, "require": ["exp", "iat"]}

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#",
)


class LaunchRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Launch:
    """A verified resource-link launch: who, from which platform, through which link."""

    platform: Platform
    subject: str
    name: str
    resource_link_id: str
    roles: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def is_learner(self) -> bool:
        return any(role.startswith(LEARNER_ROLES) for role in self.roles)


def login_redirect(request: HttpRequest, launch_url: str) -> HttpResponse:
    """The answer to a platform's OIDC login initiation: a redirect to its authentication
    endpoint, with the state cookie and the browser's launch session cookie set."""
    login = DjangoOIDCLogin(request, PlatformToolConf())
    login.set_launch_data_storage(RedisLaunchStorage())
    login.set_launch_data_lifetime(NONCE_SECONDS)
    try:
        response: HttpResponse = login.redirect(launch_url)
    except OIDCException as exc:
        raise LaunchRefused(400, f"the login cannot start: {exc}") from None
    return response


def verify(request: HttpRequest) -> Launch:
    """The launch posted by the platform, once its state, nonce, registration, signature, expiry,
    deployment and message are checked; a resource-link launch only."""
    try:
        launch = _MessageLaunch(
            request,
            PlatformToolConf(),
            session_service=_OneTimeNonces(DjangoRequest(request, post_only=True)),
            launch_data_storage=RedisLaunchStorage(),
            requests_session=_TimedSession(),
        )
        launch.set_jwt_verify_options(VERIFY_OPTIONS)
        data: dict[str, Any] = dict(launch.get_launch_data())
        if not launch.is_resource_launch():
            raise LaunchRefused(400, "only resource link launches (LtiResourceLinkRequest) open an exam")
        platform = platform_of(str(data["iss"]), launch.get_client_id())
        if platform is None:  # deactivated in between
            raise LaunchRefused(403, "the platform is not registered")
        return _launch_of(platform, data)
    except LtiException as exc:
        raise LaunchRefused(403, f"the launch could not be verified: {exc}") from None
    except (AttributeError, TypeError, KeyError, ValueError):
        # PyLTI1p3 (and _launch_of) take the token's parts and claims for the JSON types the
        # spec gives them; a signed token of other types is the platform's error, not ours.
        raise LaunchRefused(400, "the launch's id_token is malformed") from None


def _launch_of(platform: Platform, data: dict[str, Any]) -> Launch:
    custom = data.get(CLAIM + "custom") or {}
    roles = data.get(CLAIM + "roles") or []
    name = data.get("name") or " ".join(
        str(part) for part in (data.get("given_name"), data.get("family_name")) if part
    )
    return Launch(
        platform=platform,
        subject=str(data["sub"]),
        name=str(name or ""),
        resource_link_id=str(data[CLAIM + "resource_link"]["id"]),
        roles=[str(role) for role in roles] if isinstance(roles, list) else [],
        custom={str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {},
    )


class _OneTimeNonces(DjangoSessionService):
    """A nonce is good for one launch: PyLTI1p3 only checks that it was issued, so the same
    id_token posted again with its state would be taken twice."""

    def check_nonce(self, nonce: str) -> bool:
        kept = self.data_storage
        assert isinstance(kept, RedisLaunchStorage)
        return kept.take(self._get_key("nonce", nonce))


class _MessageLaunch(DjangoMessageLaunch):
    def __init__(self, request: HttpRequest, tool_config: PlatformToolConf, **services: Any) -> None:
        super().__init__(request, tool_config, **services)  # type: ignore[no-untyped-call]

    def save_launch_data(self) -> _MessageLaunch:
        # The launch is acted on at once and never restored: nothing of it is kept.
        return self

    def fetch_public_key(self, key_set_url: str) -> Any:
        """The platform's key set: from Redis while it holds the token's key (at an exam's start
        hundreds of launches come within a minute), else fetched again (a key rotated in)."""
        kid = self._jwt.get("header", {}).get("kid")
        cached = storage.cached_key_set(key_set_url)
        if cached is not None and any(key.get("kid") == kid for key in cached.get("keys", [])):
            return cached
        fresh = super().fetch_public_key(key_set_url)
        if not isinstance(fresh, dict) or not isinstance(fresh.get("keys"), list):
            raise LtiException(f"the key set at {key_set_url} is not a JWKS")
        storage.keep_key_set(key_set_url, dict(fresh))
        return fresh


class _TimedSession(requests.Session):
    """The platform's key set is fetched with a timeout (PyLTI1p3 gives none)."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", JWKS_TIMEOUT)
        return super().request(method, url, *args, **kwargs)
