"""The test LTI platform (tests/lti_platform.py) and a browser (the Django test client) that goes
through the tool's login and posts the platform's launch back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from proctoring.lti.models import Platform
from tests.lti_platform import AUTH_URL, CLIENT_ID, DEPLOYMENT, ISSUER, LmsPlatform

LAUNCH_URL = "http://testserver/lti/launch/"


class Browser:
    """The exam taker's browser: it follows the platform's login initiation to the tool, and
    posts the platform's answer (state and id_token) to the tool's launch URL."""

    def __init__(self) -> None:
        self.client = Client()

    def login(self, iss: str = ISSUER, client_id: str = CLIENT_ID, **extra: str) -> Any:
        params = {
            "iss": iss,
            "login_hint": "login-hint-7",
            "target_link_uri": LAUNCH_URL,
            "lti_message_hint": "message-hint-42",
            "client_id": client_id,
            "lti_deployment_id": DEPLOYMENT,
            **extra,
        }
        return self.client.post("/lti/login/", params)

    def authenticate(self, iss: str = ISSUER, client_id: str = CLIENT_ID) -> dict[str, str]:
        """Logs in at the tool and returns the parameters of its redirect to the platform."""
        response = self.login(iss, client_id)
        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == AUTH_URL
        return {key: values[0] for key, values in parse_qs(location.query).items()}

    def launch(self, state: str, id_token: str) -> Any:
        return self.client.post("/lti/launch/", {"state": state, "id_token": id_token})


@pytest.fixture
def platform() -> Iterator[LmsPlatform]:
    server = LmsPlatform()
    yield server
    server.stop()


@pytest.fixture
def registered(platform: LmsPlatform, db: None) -> Platform:
    return platform.register()


@pytest.fixture
def browser() -> Browser:
    return Browser()


def launched(
    platform: LmsPlatform,
    browser: Browser,
    changes: dict[str, Any] | None = None,
    key: Any = None,
    iss: str = ISSUER,
) -> Any:
    """One whole launch: the login, then the platform's id_token for its nonce, posted back."""
    auth = browser.authenticate(iss)
    token = platform.id_token(platform.claims(auth["nonce"], changes), key=key)
    return browser.launch(auth["state"], token)
