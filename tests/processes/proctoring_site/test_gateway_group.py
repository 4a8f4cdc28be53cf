"""`manage.py rungateway --processes N`: N daphne processes on one port, every core serving.

The kernel spreads one exam's cameras over the processes; what must be global (the connection
limit of an attempt, the events a proctor's dashboard hears) holds across them because it lives
in Redis; a process that dies is replaced and the connections sent its way meanwhile wait for
the new one; SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from exams.models import Attempt, Exam
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import make_token
from tests.processes.gateway.test_many_gateways import Watcher, send_frame
from tests.support import Process, child_env, free_port, python, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROCESSES = 2
CAMERAS = 24  # all on one process by chance: 2 × 2⁻²⁴


def start_group(processes: list[Process], tmp_path: Path, port: int) -> Process:
    group = Process(
        python("manage.py", "rungateway", "--port", str(port), "--processes", str(PROCESSES)),
        child_env(PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT="2"),
        tmp_path / "rungateway.log",
    )
    processes.append(group)
    # Connections the kernel gives a gateway still starting wait in its socket's backlog, so
    # nothing needs to know when each is ready: the cameras' connect waits (open_timeout).
    wait_until(lambda: len(gateway_pids(group)) >= PROCESSES, 30, "the gateways' PIDs")
    return group


def gateway_pids(group: Process) -> list[int]:
    """The PIDs of the gateways running now, from the supervisor's log (the latest per index)."""
    assert group.popen.poll() is None, group.log()
    latest = dict(re.findall(r"rungateway: gateway (\d+) is pid (\d+)", group.log()))
    return [int(pid) for _, pid in sorted(latest.items())]


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def established(pid: int, port: int) -> int:
    """The TCP connections on `port` that process `pid` holds open (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                count += 1
    return count


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def camera(port: int, attempt: Attempt) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}", open_timeout=30
    )


def takers(exam: Exam, count: int) -> list[Attempt]:
    users = get_user_model()
    return [
        Attempt.objects.create(
            user=users.objects.create_user(f"taker-{i}"), exam=exam, consented_at=timezone.now()
        )
        for i in range(count)
    ]


@pytest.fixture
def staff_cookie(db: None) -> str:
    staff = get_user_model().objects.create_superuser("proctor", password="proctor-pass-123")
    browser = Client()
    browser.force_login(staff)
    return f"sessionid={browser.cookies['sessionid'].value}"


def test_one_exams_cameras_spread_over_the_processes_and_what_is_global_holds(
    exam, processes, tmp_path, staff_cookie, api
):
    port = free_port()
    group = start_group(processes, tmp_path, port)
    pids = gateway_pids(group)
    assert len(set(pids)) == PROCESSES and all(parent_of(pid) == group.popen.pid for pid in pids)
    attempts = takers(exam, CAMERAS)
    dashboard = Watcher(port, f"/ws/proctor/exams/{exam.slug}/", staff_cookie)
    try:
        with ExitStack() as stack:
            sockets = [stack.enter_context(camera(port, attempt)) for attempt in attempts]
            for ws in sockets:
                answer = send_frame(ws)
                assert answer["type"] == "ack", answer
            spread = {pid: established(pid, port) for pid in pids}
            # The dashboard's own socket is one of them; every process holds some cameras.
            assert sum(spread.values()) == CAMERAS + 1 and all(spread.values()), spread
            # The proctor's dashboard, on one process, heard every camera connect, on any process.
            for attempt in attempts:
                dashboard.wait_for("connected", str(attempt.pk), 1)

            # An attempt's connection limit (2) is counted across the processes: of 12 sockets
            # opened at once, spread over both, exactly 2 stream.
            limited = attempts[0]
            extra = [stack.enter_context(camera(port, limited)) for _ in range(11)]
            codes: Counter[str] = Counter()
            for ws in extra:
                try:
                    message = json.loads(ws.recv(timeout=2))
                    codes["open" if message else "?"] += 1
                except TimeoutError:
                    codes["open"] += 1
                except ConnectionClosed as closed:
                    codes[str(closed.rcvd.code if closed.rcvd else None)] += 1
            # sockets[0] already holds one of attempts[0]'s two places: one more is admitted.
            assert codes == {"open": 1, str(CloseCode.TOO_MANY_CONNECTIONS): 10}, codes
    finally:
        dashboard.close()


def test_a_dead_process_is_replaced_and_sigterm_stops_them_all(exam, processes, tmp_path, api):
    port = free_port()
    group = start_group(processes, tmp_path, port)
    victim, survivor = gateway_pids(group)
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: victim not in gateway_pids(group) and len(gateway_pids(group)) == PROCESSES,
        30,
        "a new gateway",
    )
    replacement = next(pid for pid in gateway_pids(group) if pid != survivor)
    assert "exited with -9" in group.log()
    # Every camera connects and streams, whichever socket the kernel gives it.
    with ExitStack() as stack:
        for attempt in takers(exam, 12):
            assert send_frame(stack.enter_context(camera(port, attempt)))["type"] == "ack"

    assert group.stop(signal.SIGTERM, timeout=30) == 0, group.log()
    for pid in (survivor, replacement):
        assert not alive(pid)
    assert not accepts(port)  # the supervisor closed the sockets
