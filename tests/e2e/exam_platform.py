"""Another exam platform, as docs/integration.md describes one: its own web server, on another
origin than the proctoring site, that opens attempts through the REST API with its key, serves
the documented sample page (docs/samples/embed.html) to the candidate, tells the API when the
candidate consents, and records what the proctoring site posts to it (its webhooks)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests

from tests.support import LocalHttpServer

SAMPLE_PAGE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "embed.html"
TIMEOUT = 10


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ExamPlatform:
    """`site`: the proctoring site's address; `key`: the platform's API key. Serves on
    `http://<hostname>:<port>`: by default `localhost`, not the site's `127.0.0.1`, so that the
    page is of another origin and another site, as a platform's page is."""

    site: str
    key: str
    hostname: str = "localhost"
    attempt: dict[str, Any] | None = None
    received: list[Received] = field(default_factory=list)  # POSTs to /webhooks/

    def __post_init__(self) -> None:
        self._http = LocalHttpServer(self._handler())

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self._http.port}"

    def stop(self) -> None:
        self._http.stop()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.site}/api/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=TIMEOUT,
        )

    def open_attempt(self, exam: str, external_user: str, consented: bool = False) -> dict[str, Any]:
        """Step 2 of the guide: the attempt the page will stream for."""
        answer = self.api(
            "POST",
            "attempts/",
            {"exam": exam, "external_user": external_user, "display_name": "Ada", "consented": consented},
        )
        assert answer.status_code in (200, 201), answer.text
        self.attempt = answer.json()
        return self.attempt

    def end_attempt(self, reason: str = "candidate finished on the platform") -> dict[str, Any]:
        assert self.attempt is not None
        answer = self.api("POST", f"attempts/{self.attempt['id']}/end/", {"reason": reason})
        assert answer.status_code == 200, answer.text
        ended: dict[str, Any] = answer.json()
        return ended

    def page(self) -> str:
        """The sample page, filled in as the guide says a platform's template fills it."""
        assert self.attempt is not None
        text = SAMPLE_PAGE.read_text()
        text = text.replace("{{ PROCTORING_SITE }}", html.escape(self.site))
        return text.replace("{{ WS_PATH }}", html.escape(self.attempt["ws_path"]))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/exam/":
                    self.reply(200, platform.page().encode(), "text/html; charset=utf-8")
                else:
                    self.reply(404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/exam/consent":
                    # The candidate agreed on the page: the same call again, now with consent.
                    assert platform.attempt is not None
                    answer = platform.api(
                        "POST",
                        "attempts/",
                        {
                            "exam": platform.attempt["exam"],
                            "external_user": platform.attempt["external_user"],
                            "consented": True,
                        },
                    )
                    self.reply(204 if answer.ok else 502)
                elif self.path.startswith("/webhooks/"):
                    platform.received.append(Received(self.path, dict(self.headers), body))
                    self.reply(204)
                else:
                    self.reply(404)

        return Handler

    def webhook_events(self) -> list[dict[str, Any]]:
        """The JSON bodies the proctoring site posted to /webhooks/, in order."""
        return [json.loads(item.body) for item in self.received]
