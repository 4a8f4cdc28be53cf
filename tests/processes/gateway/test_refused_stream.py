"""Issue 18, finding 1b, on a live stack (daphne, a worker, an API refusing every frame with 400): a
camera streaming 200 frames of 500 KB the API will never take is slowed, then refused at the
gateway, so it costs a handful of API calls and failed jobs, not 200."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from rq.registry import FailedJobRegistry
from websockets.sync.client import connect

from proctoring.core.protocol import ErrorCode
from proctoring.gateway.tokens import make_token
from tests.support import Reply, noise_jpeg, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_camera_whose_frames_are_all_refused_is_slowed_then_stopped(
    attempt, api, start_daphne, start_worker, redis_conn
):
    api.script(Reply(400, {"error": "bad_image", "detail": "refused"}))
    _, port = start_daphne()
    start_worker()
    image = noise_jpeg(900, 640, 90)
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/"
    headers = {"Authorization": f"Bearer {make_token(attempt)}"}
    answers: Counter[str] = Counter()
    rates: list[float] = []
    with connect(url, open_timeout=10, max_size=None, additional_headers=headers) as ws:
        for seq in range(1, 201):
            ws.send(image)
            while True:
                message = json.loads(ws.recv(timeout=10))
                if message["type"] == "throttle":
                    rates.append(message["fps"])
                    continue
                assert message["seq"] == seq
                answers[message.get("code", message["type"])] += 1
                break
            if answers[ErrorCode.FRAMES_REFUSED] == 50:
                break  # stopped for good: the rest would be refused alike
    registry = FailedJobRegistry("proctoring", connection=redis_conn)
    acked = answers["ack"]
    wait_until(lambda: registry.count == acked, 30, "every acked frame failed as refused")
    print(f"answers {dict(answers)}, API calls {len(api.calls)}, throttles {rates}")
    assert answers[ErrorCode.FRAMES_REFUSED] == 50, "the gateway stopped taking its frames"
    assert len(api.calls) == acked <= 10 + 10, "at most the limit and what was in flight reached the API"
    assert rates and rates[0] == 0.2, "asked to slow down first"
