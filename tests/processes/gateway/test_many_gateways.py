"""One exam taker's frames spread over two gateways (real daphne processes) and one real worker:
every acked frame reaches the API once, the per-client counts and the pending cap hold across
both gateways, and staff sockets on one gateway hear of frames sent through the other."""

from __future__ import annotations

import html
import json
import re
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from exams.models import Attempt
from proctoring.core.protocol import ErrorCode
from proctoring.gateway.tokens import make_token
from proctoring.queue import counters
from tests.support import Process, RecordingApi, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STATS_TOKEN = "many-gateways-stats-token"
IDLE = {"queued": 0, "running": 0, "retrying": 0, "failed": 0, "stale": 0}


class Watcher:
    """A staff socket (job events or the proctor dashboard) read on a thread."""

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._opened = connect(
            f"ws://127.0.0.1:{port}{path}",
            open_timeout=10,
            additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
        )
        self.socket = self._opened.__enter__()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for message in self.socket:
                self.messages.append(json.loads(message))
        except Exception:  # closed at the end of the test
            pass

    def events(self, name: str, client_id: str) -> list[dict[str, Any]]:
        return [
            item
            for message in list(self.messages)
            if message["type"] == "events"
            for item in message["events"]
            if item["event"] == name and item["client_id"] == client_id
        ]

    def rows(self, client_id: str) -> list[dict[str, Any]]:
        return [
            row
            for message in list(self.messages)
            if message["type"] == "rows"
            for row in message["rows"]
            if row["attempt_id"] == client_id
        ]

    def wait_for(self, name: str, client_id: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """The client's `name` events once there are `count` of them."""
        wait_until(lambda: len(self.events(name, client_id)) >= count, timeout, f"{count} {name} event(s)")
        return self.events(name, client_id)

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def two_gateways(start_daphne: Callable[..., tuple[Process, int]]) -> tuple[int, int]:
    """Two gateways on the suite's Redis and database, with the test's settings: A's and B's ports."""
    _, a = start_daphne(PROCTORING_STATS_TOKEN=STATS_TOKEN)
    _, b = start_daphne(PROCTORING_STATS_TOKEN=STATS_TOKEN)
    return a, b


@pytest.fixture
def staff_cookie(db: None) -> str:
    # The events socket, the dashboard and the queue pages at once: a superuser.
    staff = get_user_model().objects.create_superuser("proctor", password="proctor-pass-123")
    browser = Client()
    browser.force_login(staff)
    return f"sessionid={browser.cookies['sessionid'].value}"


def send_frame(ws: ClientConnection) -> dict[str, Any]:
    """Sends one frame and returns its answer (an ack or an error)."""
    ws.send(jpeg_bytes())
    while True:
        answer: dict[str, Any] = json.loads(ws.recv(timeout=15))
        if answer["type"] != "throttle":  # a rate hint, not this frame's answer
            return answer


def get(port: int, path: str, **headers: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def stats_row(port: int, cookie: str, client_id: str) -> dict[str, Any]:
    """The client's row in /proctoring/stats.json, as staff read it (the token reads no rows)."""
    stats = json.loads(get(port, "/proctoring/stats.json", Cookie=cookie))
    [row] = [row for row in stats["clients"] if row["client"] == client_id]
    return dict(row)


def admin_cells(port: int, cookie: str, client_id: str) -> list[str]:
    """The client's row on the admin's per-client page: client, user, backlog, queued, running,
    retrying, failed, completed today, last frame, exam."""
    page = get(port, "/admin/proctoring/queue/clients/", Cookie=cookie).decode()
    row = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{client_id}</a>.*?</tr>", page, re.S)
    assert row is not None, f"no row for {client_id} on the per-client page"
    return [
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td.*?</td>", row[0], re.S)
    ]


def refused_in_metrics(port: int) -> float | None:
    """`proctoring_frames_rejected_total{reason="rate_limited"}` as /metrics shows it."""
    text = get(port, "/metrics", Authorization=f"Bearer {STATS_TOKEN}").decode()
    found = re.search(r'^proctoring_frames_rejected_total\{reason="rate_limited"\} (\S+)$', text, re.M)
    return float(found[1]) if found else None


def api_calls_by_job(api: RecordingApi) -> Counter[str]:
    return Counter(call.headers["Idempotency-Key"] for call in list(api.calls))


@contextmanager
def cameras(attempt: Attempt, ports: dict[str, int]) -> Iterator[dict[str, ClientConnection]]:
    """The attempt's camera sockets, one on each gateway named (two: the attempt's limit)."""
    token = make_token(attempt)
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                connect(f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={token}")
            )
            for name, port in ports.items()
        }


def completed(client_id: str) -> int:
    return int(counters.read([client_id])[client_id]["completed_today"])


def test_one_client_over_two_gateways_every_frame_reaches_the_api_once_and_counts_are_exact(
    attempt, api, start_daphne, staff_cookie, start_worker, settings
):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 100  # this test is about counting, not the cap
    a, b = two_gateways(start_daphne)
    client_id = str(attempt.pk)
    start_worker()
    events = Watcher(b, "/ws/admin/proctoring/events/", staff_cookie)
    dashboard = Watcher(a, f"/ws/proctor/exams/{attempt.exam.slug}/", staff_cookie)
    acked: dict[str, tuple[str, int]] = {}  # job id -> (gateway, seq)
    try:
        with cameras(attempt, {"A": a, "B": b}) as on:
            for watcher in (events, dashboard):  # each hears both cameras connect, one per gateway
                watcher.wait_for("connected", client_id, 2)
            for seq in range(1, 21):
                for gateway in ("A", "B"):
                    answer = send_frame(on[gateway])
                    assert (answer["type"], answer["seq"]) == ("ack", seq), answer
                    acked[answer["job_id"]] = (gateway, seq)
            assert len(acked) == 40 and Counter(g for g, _ in acked.values()) == {"A": 20, "B": 20}
            wait_until(lambda: completed(client_id) == 40, 30, "40 frames delivered")

            # Each acked frame reached the API exactly once, as the frame it was acked as.
            calls = api_calls_by_job(api)
            assert set(calls) == set(acked) and set(calls.values()) == {1}
            for call in api.calls:
                assert call.fields["client_id"] == client_id
                assert int(call.fields["seq"]) == acked[call.headers["Idempotency-Key"]][1]

            counts = counters.read([client_id])[client_id]
            assert {k: counts[k] for k in IDLE} == IDLE and counts["completed_today"] == 40
            # What staff read from B's stats.json, and the admin's per-client page on A.
            row = stats_row(b, staff_cookie, client_id)
            assert {k: row[k] for k in IDLE} == IDLE and (row["completed_today"], row["backlog"]) == (40, 0)
            cells = admin_cells(a, staff_cookie, client_id)
            assert cells[2:8] == ["0", "0", "0", "0", "0", "40"], cells  # backlog ... completed today

            # Watchers on either gateway heard of every frame once, whichever gateway took it.
            for watcher in (events, dashboard):
                heard = watcher.wait_for("completed", client_id, 40)
                assert Counter(item["job_id"] for item in heard) == Counter(set(acked))
                assert all(acked[item["job_id"]][1] == item["seq"] for item in heard)
            on["B"].close()
            # B's camera is gone: the dashboard on A hears it and sends the attempt's row, exact.
            dashboard.wait_for("disconnected", client_id, 1)
            final = wait_until(
                lambda: [r for r in dashboard.rows(client_id) if r["completed_today"] == 40],
                10,
                "a final row",
            )[-1]
            assert (final["backlog"], final["failed"]) == (0, 0)
    finally:
        events.close()
        dashboard.close()


def test_the_pending_cap_holds_across_both_gateways(
    attempt, api, start_daphne, staff_cookie, start_worker, settings
):
    cap = 4
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = cap
    settings.PROCTORING_API_TIMEOUT = 60.0  # the held frames wait at the API, not time out and retry
    a, b = two_gateways(start_daphne)
    client_id = str(attempt.pk)
    start_worker()
    api.block()
    with cameras(attempt, {"A": a, "B": b}) as on:
        answers = [(name, send_frame(on[name])) for _ in range(5) for name in ("A", "B")]
        acked = [(name, answer["job_id"]) for name, answer in answers if answer["type"] == "ack"]
        refused = [(name, answer) for name, answer in answers if answer["type"] != "ack"]
        # Exactly the cap acked, two through each gateway, and the rest refused on both.
        assert [name for name, _ in acked] == ["A", "B", "A", "B"]
        assert Counter(name for name, _ in refused) == {"A": 3, "B": 3}
        assert {answer["code"] for _, answer in refused} == {ErrorCode.RATE_LIMITED.value}

        wait_until(lambda: len(api.calls) == cap, 20, "the acked frames held at the API")
        counts = counters.read([client_id])[client_id]
        assert (counts["queued"], counts["running"], counts["completed_today"]) == (0, cap, 0)
        row = stats_row(a, staff_cookie, client_id)
        assert (row["running"], row["queued"], row["completed_today"]) == (cap, 0, 0)
        assert admin_cells(b, staff_cookie, client_id)[2:8] == ["0", "0", "4", "0", "0", "0"]
        assert send_frame(on["B"])["code"] == ErrorCode.RATE_LIMITED.value, "still full"
        # /metrics on either gateway counts both gateways' refusals, though no ack followed them.
        wait_until(lambda: [refused_in_metrics(port) for port in (a, b)] == [7, 7], 5, "refusals counted")

        api.release()
        wait_until(lambda: completed(client_id) == cap, 20, "the held frames delivered")
        assert set(api_calls_by_job(api)) == {job_id for _, job_id in acked}
        # Room again, on both gateways.
        assert send_frame(on["A"])["type"] == "ack" and send_frame(on["B"])["type"] == "ack"
        wait_until(lambda: completed(client_id) == cap + 2, 20, "six delivered")
        counts = counters.read([client_id])[client_id]
        assert {k: counts[k] for k in IDLE} == IDLE
        assert set(api_calls_by_job(api).values()) == {1} and len(api.calls) == cap + 2
