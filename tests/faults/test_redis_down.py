"""Redis stops under a connected camera and comes back: while it is down the gateway answers
each frame with `unavailable` (not an ack, not a hang), and once it is back (AOF on, same data
directory) the same socket's frames are acked again and the frame acked before the stop is still
queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from websockets.sync.client import connect

from proctoring.gateway.tokens import make_token
from proctoring_site.embedded_redis import RedisServer
from tests.support import jpeg_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_frames_are_refused_as_unavailable_while_redis_is_down_and_acked_when_it_is_back(
    attempt, start_daphne, tmp_path: Path
):
    redis_server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        _, port = start_daphne(REDIS_URL=redis_server.url)
        url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
        with connect(url, open_timeout=10) as ws:
            ws.send(jpeg_bytes())
            before = json.loads(ws.recv(timeout=10))
            redis_server.stop()
            ws.send(jpeg_bytes())
            during = json.loads(ws.recv(timeout=15))
            redis_server = RedisServer(tmp_path / "redis", port=redis_server.port, appendonly=True).start()
            ws.send(jpeg_bytes())
            after = json.loads(ws.recv(timeout=15))
        assert before["type"] == "ack"
        assert (during["type"], during["code"]) == ("error", "unavailable")
        assert after["type"] == "ack"
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        queued = list(client.lrange("rq:queue:proctoring", 0, -1))
        assert before["job_id"] in queued, "acked before the stop, kept by the AOF"
        client.close()
    finally:
        redis_server.stop()
