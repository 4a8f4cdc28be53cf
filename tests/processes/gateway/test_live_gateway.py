"""A real socket against a live daphne: the gateway as a camera client meets it."""

from __future__ import annotations

import json

import pytest
from rq.job import Job
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from proctoring.core.protocol import CloseCode, ErrorCode
from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from tests.support import jpeg_bytes, noise_jpeg, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_camera_client_streams_through_daphne_to_the_api(
    attempt, api, start_daphne, start_worker, redis_conn
):
    _, port = start_daphne()
    start_worker()
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    with connect(url, open_timeout=10, max_size=None) as ws:
        ws.send(jpeg_bytes())
        ack = json.loads(ws.recv(timeout=10))
        ws.send(b"")
        empty = json.loads(ws.recv(timeout=10))
        ws.send("{not json")
        bad = json.loads(ws.recv(timeout=10))
        ws.send(noise_jpeg(320, 240))
        second = json.loads(ws.recv(timeout=10))
    assert (ack["type"], ack["seq"]) == ("ack", 1)
    assert (empty["seq"], empty["code"]) == (2, ErrorCode.BAD_FRAME)
    assert (bad["seq"], bad["code"]) == (3, ErrorCode.BAD_MESSAGE)
    assert (second["type"], second["seq"]) == ("ack", 4)
    wait_until(lambda: FrameResult.objects.count() == 2, 30, "both frames delivered")
    # The worker runs jobs concurrently: the two calls may arrive in either order.
    assert sorted(c.headers["Idempotency-Key"] for c in api.calls) == sorted(
        [ack["job_id"], second["job_id"]]
    )
    # The job's records go once its success is recorded, just after its result is stored.
    wait_until(lambda: not redis_conn.exists(Job.key_for(ack["job_id"])), 10, "job records removed")


def test_live_gateway_refuses_a_bad_token_with_4401(attempt, start_daphne):
    _, port = start_daphne()
    with connect(f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token=forged", open_timeout=10) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAUTHENTICATED


def test_connection_outlives_the_channel_layers_blocking_read(attempt, start_daphne):
    """channels-redis blocks 5 s per read; a shorter Redis socket timeout used to close every
    socket with 1011 after 5 s (channels_redis #422). An idle camera must stay connected."""
    _, port = start_daphne()
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    with connect(url, open_timeout=10) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=7)  # idle past the 5 s read: no message, and no close
        ws.send(jpeg_bytes())
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"


def test_a_camera_client_sends_its_token_in_the_authorization_header(attempt, start_daphne, redis_conn):
    """The token outside the URL, where access logs do not keep it: daphne hands the header on."""
    _, port = start_daphne()
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/"
    headers = {"Authorization": f"Bearer {make_token(attempt)}"}
    with connect(url, open_timeout=10, additional_headers=headers) as ws:
        ws.send(jpeg_bytes())
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"
