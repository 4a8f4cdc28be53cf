"""The only code that speaks HTTP to the proctoring API. Every call has a timeout."""

from __future__ import annotations

import json
import threading
from typing import Any

import requests
from django.conf import settings

from proctoring.exceptions import ApiRejected, ApiUnavailable
from proctoring.frames import FrameMeta

# Answers kept in an error: enough to see what the API said, not a whole HTML error page.
MAX_BODY_CHARS = 4000
RETRYABLE_STATUSES = {429} | set(range(500, 600))

_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread: requests' Session is not thread-safe.
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        _local.session = session
    return session


def analyze_frame(meta: FrameMeta, image: bytes, idempotency_key: str) -> dict[str, Any]:
    """POSTs one frame as multipart/form-data and returns the API's JSON answer.

    Raises:
        ApiUnavailable: connection error, timeout, HTTP 5xx or 429 (worth retrying).
        ApiRejected: any other non-2xx answer, or a 2xx whose body is not a JSON object.
    """
    headers = {"Idempotency-Key": idempotency_key, "Accept": "application/json"}
    if settings.PROCTORING_API_KEY:
        headers["Authorization"] = f"Bearer {settings.PROCTORING_API_KEY}"
    extension = "png" if meta.content_type == "image/png" else "jpg"
    files = {"image": (f"frame-{meta.seq}.{extension}", image, meta.content_type)}
    data = {
        "client_id": meta.client_id,
        "attempt_id": meta.attempt_id,
        "seq": str(meta.seq),
        "captured_at": meta.captured_at.isoformat(),
    }
    url = settings.PROCTORING_API_URL
    try:
        response = _session().post(
            url, headers=headers, files=files, data=data, timeout=settings.PROCTORING_API_TIMEOUT
        )
    except requests.Timeout as exc:
        raise ApiUnavailable(f"API timed out after {settings.PROCTORING_API_TIMEOUT}s: {exc}") from exc
    except requests.RequestException as exc:
        raise ApiUnavailable(f"API unreachable at {url}: {exc}") from exc

    body = response.text[:MAX_BODY_CHARS]
    if response.status_code in RETRYABLE_STATUSES:
        raise ApiUnavailable(
            f"API answered {response.status_code}: {body}", status=response.status_code, body=body
        )
    if not 200 <= response.status_code < 300:
        raise ApiRejected(
            f"API answered {response.status_code}: {body}", status=response.status_code, body=body
        )
    try:
        answer = response.json()
    except (json.JSONDecodeError, ValueError):
        raise ApiRejected(
            f"API answered {response.status_code} with a body that is not JSON: {body}",
            status=response.status_code,
            body=body,
        ) from None
    if not isinstance(answer, dict):
        raise ApiRejected(
            f"API answered {response.status_code} with JSON that is not an object: {body}",
            status=response.status_code,
            body=body,
        )
    return answer
