"""Pausing the workers (RQ's suspension, the admin's Pause): they take nothing new, the gateway
still accepts frames and says so in its acks, and everything waiting goes once resumed.

Here the tests that need no process;
the others are in tests/processes/ops/test_pause.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rq.suspension import resume, suspend

from proctoring.core import protocol
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from tests.support import jpeg_bytes

FRAME = parse_image(jpeg_bytes(), 1 << 20)


def test_an_ack_says_paused_only_when_workers_are_paused() -> None:
    assert "paused" not in json.loads(protocol.ack(1, "j"))
    assert json.loads(protocol.ack(2, "j", paused=True))["paused"] is True


@pytest.mark.django_db
def test_the_gateways_enqueue_reports_a_pause(redis_conn: Any) -> None:
    async def enqueue(seq: int) -> enqueuing.Enqueued:
        return await enqueuing.aenqueue_frame("client-p", "client-p", seq, FRAME)

    assert asyncio.run(enqueue(1)).paused is False
    suspend(redis_conn)
    paused = asyncio.run(enqueue(2))
    assert paused.paused is True and redis_conn.llen("rq:queue:proctoring") == 2, "accepted while paused"
    resume(redis_conn)
    assert asyncio.run(enqueue(3)).paused is False
