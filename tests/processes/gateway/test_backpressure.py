"""A camera that sends faster than the gateway handles its frames is read no faster: the
gateway stops reading its socket while a few frames wait for the consumer, so TCP pushes back on
the sender instead of the gateway's memory growing with every unread frame; once the gateway
catches up, every frame sent is acked, none lost.

The gateway is held up the way a slow Redis holds it: `CLIENT PAUSE ... WRITE` keeps every
enqueue waiting until it is lifted (a CPU-starved gateway is `bench.soak`'s case)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from proctoring.gateway.tokens import make_token
from proctoring.store import keys
from tests.support import noise_jpeg, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FRAMES = 100
FRAME = noise_jpeg(1280, 720, 90)  # ~0.8 MB: 100 of them are far more than the sockets' buffers


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_camera_faster_than_its_gateway_is_held_by_tcp_not_by_the_gateways_memory(
    attempt, start_daphne, redis_conn, settings
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = FRAMES + 10  # the cap is not what this is about
    daphne, port = start_daphne(PROCTORING_MAX_PENDING_PER_CLIENT=str(FRAMES + 10))
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    sent: list[float] = []  # when each frame's send returned
    with connect(url, open_timeout=10, max_size=None) as ws:
        ws.send(FRAME)  # one frame through, so the process has warmed up before measuring
        assert json.loads(ws.recv(timeout=10))["type"] == "ack"
        before = rss_kb(daphne.popen.pid)
        redis_conn.client_pause(60_000, all=False)  # writes wait: every enqueue hangs
        try:

            def send_all() -> None:
                for _ in range(FRAMES):
                    ws.send(FRAME)
                    sent.append(time.monotonic())

            sender = threading.Thread(target=send_all, daemon=True)
            sender.start()
            # The sender is blocked once a second passes without a send completing.
            wait_until(
                lambda: len(sent) == FRAMES or (sent and time.monotonic() - sent[-1] > 1.0),
                30,
                "the sender blocked or done",
            )
            held_by_tcp = len(sent)
            grown_mb = (rss_kb(daphne.popen.pid) - before) / 1024
        finally:
            redis_conn.client_unpause()
        answers: list[dict[str, Any]] = []
        while len(answers) < FRAMES:
            answer = json.loads(ws.recv(timeout=30))
            if answer["type"] != "throttle":
                answers.append(answer)
        sender.join(30)
    # Without push back daphne reads all 100 (~80 MB) into memory; with it, a few frames wait in
    # the gateway and the rest in the kernel's buffers and the sender's.
    assert held_by_tcp < FRAMES * 0.6, f"{held_by_tcp} of {FRAMES} sends completed while the gateway was held"
    assert grown_mb < 20, f"the gateway grew by {grown_mb:.0f} MB holding unread frames"
    # Counted for operators (/metrics: proctoring_gateway_reads_paused_total).
    wait_until(
        lambda: int(redis_conn.hget(keys.totals(), keys.GATEWAY_READS_PAUSED) or 0) >= 1, 10, "the count"
    )
    assert [a["type"] for a in answers] == ["ack"] * FRAMES and [a["seq"] for a in answers] == list(
        range(2, FRAMES + 2)
    )
