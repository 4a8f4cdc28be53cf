"""The only code that speaks HTTP to the proctoring API. Every call has a timeout."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any, NamedTuple

import requests
from django.conf import settings

from proctoring.core.exceptions import ApiRejected, ApiUnavailable
from proctoring.core.frames import FrameMeta
from proctoring.core.redaction import redacted_url, scrubbed
from proctoring.queue import metrics

# Answers kept in an error: enough to see what the API said, not a whole HTML error page.
MAX_BODY_CHARS = 4000
RETRYABLE_STATUSES = {429} | set(range(500, 600))

_local = threading.local()


class _Client(NamedTuple):
    key: tuple[str, str]  # (API URL, API key) it was made for
    session: requests.Session
    template: requests.PreparedRequest  # the POST with its fixed headers, prepared once


def _client() -> _Client:
    """This thread's keep-alive session (requests' Session is not thread-safe) and request
    template, for the configured URL and key."""
    key = (settings.PROCTORING_API_URL, settings.PROCTORING_API_KEY)
    client: _Client | None = getattr(_local, "client", None)
    if client is not None and client.key == key:
        return client
    if client is not None:
        client.session.close()
    session = requests.Session()
    # requests reads the proxy variables, the CA bundle variables and ~/.netrc again on every
    # call, and merges and prepares every request from scratch: work that gives the same answer
    # on every call, paid per frame. Read the environment once per session and prepare the
    # request once; each call copies it and sets its own headers and body.
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(key[0])
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    headers = {"Accept": "application/json"}
    if key[1]:
        headers["Authorization"] = f"Bearer {key[1]}"
    template = session.prepare_request(requests.Request("POST", key[0], headers=headers))
    client = _Client(key, session, template)
    _local.client = client
    return client


def _multipart(fields: dict[str, str], filename: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """multipart/form-data: the text fields, then the image (what requests' `files=` sends,
    built in one join instead of field objects per call)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
    )
    parts.extend((data, f"\r\n--{boundary}--\r\n".encode()))
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def analyze_frame(meta: FrameMeta, image: bytes, idempotency_key: str, late: bool = False) -> dict[str, Any]:
    """POSTs one frame as multipart/form-data and returns the API's JSON answer. A `late` frame
    (past its live window, sent as backfill) carries the field `late=1`.

    Raises:
        ApiUnavailable: connection error, timeout, HTTP 5xx or 429 (worth retrying).
        ApiRejected: any other non-2xx answer, or a 2xx whose body is not a JSON object.
    """
    extension = "png" if meta.content_type == "image/png" else "jpg"
    fields = {
        "client_id": meta.client_id,
        "attempt_id": meta.attempt_id,
        "seq": str(meta.seq),
        "captured_at": meta.captured_at.isoformat(),
    }
    if late:
        fields["late"] = "1"
    payload, content_type = _multipart(fields, f"frame-{meta.seq}.{extension}", meta.content_type, image)
    client = _client()
    request = client.template.copy()
    request.headers["Idempotency-Key"] = idempotency_key
    request.headers["Content-Type"] = content_type
    request.prepare_body(payload, None)
    url = client.key[0]
    started = time.perf_counter()
    try:
        response = client.session.send(request, timeout=settings.PROCTORING_API_TIMEOUT)
    except requests.Timeout as exc:
        _observe(started, "timeout")
        timed_out = f"API timed out after {settings.PROCTORING_API_TIMEOUT}s: {exc}"
        raise ApiUnavailable(scrubbed(timed_out, url)) from exc
    except requests.RequestException as exc:
        _observe(started, "unreachable")
        # The message reaches logs, job meta and the staff event feed: never the URL's
        # credentials, whatever requests quotes of it.
        raise ApiUnavailable(scrubbed(f"API unreachable at {redacted_url(url)}: {exc}", url)) from exc
    _observe(started, str(response.status_code))

    if not 200 <= response.status_code < 300:
        body = response.text[:MAX_BODY_CHARS]
        error = ApiUnavailable if response.status_code in RETRYABLE_STATUSES else ApiRejected
        raise error(f"API answered {response.status_code}: {body}", status=response.status_code, body=body)
    try:
        # JSON is UTF-8 (json.loads also detects UTF-16/32): no need for requests' charset guess.
        answer = json.loads(response.content)
    except ValueError:
        body = response.text[:MAX_BODY_CHARS]
        raise ApiRejected(
            f"API answered {response.status_code} with a body that is not JSON: {body}",
            status=response.status_code,
            body=body,
        ) from None
    if not isinstance(answer, dict):
        body = response.text[:MAX_BODY_CHARS]
        raise ApiRejected(
            f"API answered {response.status_code} with JSON that is not an object: {body}",
            status=response.status_code,
            body=body,
        )
    return answer


def _observe(started: float, status: str) -> None:
    metrics.recorder.observe("api", (time.perf_counter() - started) * 1000, metrics.API_BUCKETS_MS)
    metrics.recorder.count(f"api_status:{status}")
