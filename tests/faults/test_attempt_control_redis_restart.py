"""The gateway's attempt-control subscription across a Redis restart: an attempt ended while the
gateway could hear nothing (Redis down, the publish lost) still reaches its open camera socket
once Redis is back: the gateway resubscribes and tells each socket its attempt's state from the
database, the final one, and closes it with 4410."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exams import lifecycle
from exams.models import Attempt
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import make_token
from proctoring_site.embedded_redis import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_end_missed_while_redis_was_down_reaches_the_socket_once_it_is_back(
    attempt, start_daphne, tmp_path: Path
):
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    running = lifecycle.apply(attempt, lifecycle.Action.BEGIN).attempt
    redis_server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        _, port = start_daphne(REDIS_URL=redis_server.url)
        url = f"ws://127.0.0.1:{port}/ws/proctoring/{running.pk}/?token={make_token(running)}"
        with connect(url, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["status"] == "in_progress"
            redis_server.stop()
            # This test's own publish goes to the suite's Redis: the gateway hears nothing of it.
            lifecycle.apply(running, lifecycle.Action.TERMINATE, reason="ended during the outage")
            back = RedisServer(tmp_path / "redis", port=redis_server.port, appendonly=True)
            redis_server = back.start()
            started = time.monotonic()
            final = json.loads(ws.recv(timeout=30))
            heard_after = time.monotonic() - started
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
    finally:
        redis_server.stop()
    assert (final["status"], final["ended"], final["reason"]) == (
        "terminated",
        True,
        "ended during the outage",
    )
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.ATTEMPT_ENDED
    print(f"the missed end reached the socket {heard_after:.2f} s after Redis was back")
