"""A test LTI 1.3 platform, as Moodle or Canvas plays it: its own RSA key, and a real HTTP server
on 127.0.0.1 that serves its JWKS (`/jwks`) and, for a real browser, the two pages of a launch:
`/start` (the learner clicks the link: a form posted to the tool's login initiation) and `/auth`
(the platform's authentication endpoint: a form posting the id_token it signs for the tool's
nonce back to the tool's redirect URI). id_tokens are minted with PyJWT."""

from __future__ import annotations

import html
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from proctoring.lti.models import Platform
from tests.support import LocalHttpServer

ISSUER = "https://lms.example.test"
CLIENT_ID = "proctoring-tool-1"
DEPLOYMENT = "deployment-1"
AUTH_URL = "https://lms.example.test/mod/lti/auth.php"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def autosubmit(action: str, fields: dict[str, str]) -> bytes:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields.items()
    )
    return (
        f'<!doctype html><form id="f" method="post" action="{html.escape(action)}">{inputs}</form>'
        '<script>document.getElementById("f").submit()</script>'
    ).encode()


class LmsPlatform:
    """A learning platform that signs with `key` (kid `kid`) and publishes its JWKS at `jwks_url`.
    `tool_url` (the tool's origin) is where its browser pages send the learner."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.key = new_key()
        self.kid = "platform-key-1"
        self.jwks_requests = 0
        self.host = host
        self.tool_url = ""
        self.claim_changes: dict[str, Any] = {}
        self._http = LocalHttpServer(self._handler())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._http.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def stop(self) -> None:
        self._http.stop()

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
            CLAIM + "target_link_uri": "http://testserver/lti/launch/",
            CLAIM + "resource_link": {"id": "link-42", "title": "Final exam"},
            CLAIM + "roles": [LEARNER],
            CLAIM + "custom": {"exam": "algebra"},
        }
        claims.update(changes or {})
        return {key: value for key, value in claims.items() if value is not None}

    def id_token(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def _jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                if url.path == "/jwks":
                    platform.jwks_requests += 1
                    self._answer("application/json", json.dumps(platform._jwks()).encode())
                elif url.path == "/start":
                    fields = {
                        "iss": ISSUER,
                        "login_hint": "moodle-user-7",
                        "client_id": CLIENT_ID,
                        "target_link_uri": f"{platform.tool_url}/lti/launch/",
                        "lti_deployment_id": DEPLOYMENT,
                    }
                    self._answer("text/html", autosubmit(f"{platform.tool_url}/lti/login/", fields))
                elif url.path == "/auth" and query.get("client_id") == CLIENT_ID:
                    token = platform.id_token(platform.claims(query["nonce"], platform.claim_changes))
                    fields = {"state": query["state"], "id_token": token}
                    self._answer("text/html", autosubmit(query["redirect_uri"], fields))
                else:
                    self.send_error(404)

            def _answer(self, content_type: str, payload: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
