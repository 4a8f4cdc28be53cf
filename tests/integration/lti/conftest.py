"""A test LTI platform: its own RSA key, its JWKS served over HTTP on 127.0.0.1, id_tokens minted
with PyJWT as Moodle or Canvas would sign them, and a browser (the Django test client) that goes
through the login and posts the launch back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from exams.models import Exam
from proctoring.lti.models import Platform

ISSUER = "https://lms.example.test"
CLIENT_ID = "proctoring-tool-1"
DEPLOYMENT = "deployment-1"
AUTH_URL = "https://lms.example.test/mod/lti/auth.php"
LAUNCH_URL = "http://testserver/lti/launch/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LmsPlatform:
    """A learning platform that signs with `key` (kid `kid`) and publishes its JWKS at `jwks_url`."""

    def __init__(self) -> None:
        self.key = new_key()
        self.kid = "platform-key-1"
        self.jwks_requests = 0
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                platform.jwks_requests += 1
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(platform.key.public_key()))
                body = json.dumps({"keys": [{**jwk, "kid": platform.kid, "alg": "RS256", "use": "sig"}]})
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register(self, **fields: Any) -> Platform:
        values = {
            "name": "Moodle",
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "deployment_ids": f"other-deployment\n{DEPLOYMENT}\n",
            "auth_login_url": AUTH_URL,
            "key_set_url": self.jwks_url,
            "all_exams": True,
            **fields,
        }
        return Platform.objects.create(**values)

    def claims(self, nonce: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """A learner's resource-link launch of link-42 (custom exam=algebra); `changes` replace
        claims (None removes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "moodle-user-7",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Ada Lovelace",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": DEPLOYMENT,
            CLAIM + "target_link_uri": LAUNCH_URL,
            CLAIM + "resource_link": {"id": "link-42", "title": "Final exam"},
            CLAIM + "roles": [LEARNER],
            CLAIM + "custom": {"exam": "algebra"},
        }
        claims.update(changes or {})
        return {key: value for key, value in claims.items() if value is not None}

    def id_token(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


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
def exam(db: None) -> Exam:
    return Exam.objects.create(slug="algebra", title="Algebra", attempts_allowed=1)


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
