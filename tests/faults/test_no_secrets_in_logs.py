"""Secrets and frames stay out of the logs: the API key, camera tokens, session cookies and the
frames' bytes appear in no line the gateway or a worker writes, on success or failure."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from websockets.sync.client import connect

from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from tests.support import Reply, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

API_KEY = "api-key-that-must-not-leak-3141"
MARKER = b"FRAME-BYTES-MUST-NOT-BE-LOGGED"


def marked_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(buffer, "JPEG", comment=MARKER)
    return buffer.getvalue()


def test_no_secret_and_no_frame_reaches_the_logs(attempt, api, settings, start_daphne, start_worker):
    settings.PROCTORING_API_KEY = API_KEY
    settings.PROCTORING_JOB_ATTEMPTS = 1
    api.script(Reply(200, {"flags": []}), Reply(500, {"error": "boom"}), Reply(200, {"flags": []}))
    daphne, port = start_daphne(DJANGO_LOG_LEVEL="DEBUG")
    worker = start_worker(DJANGO_LOG_LEVEL="DEBUG")
    token = make_token(attempt)
    image = marked_jpeg()
    assert MARKER in image
    with connect(f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={token}", open_timeout=10) as ws:
        for _ in range(3):
            ws.send(image)
            assert json.loads(ws.recv(timeout=10))["type"] == "ack"
    wait_until(lambda: len(api.calls) == 3, 30, "three calls, one of them failing")
    wait_until(lambda: FrameResult.objects.count() == 2, 30, "two stored")
    assert api.calls[0].headers["Authorization"] == f"Bearer {API_KEY}", "the key was sent"
    wait_until(lambda: "ERROR" in worker.log(), 10, "the failure logged (without secrets)")
    for process in (daphne, worker):
        log = process.log()
        assert API_KEY not in log
        assert token not in log and token.split(":")[-1] not in log
        assert MARKER.decode() not in log
