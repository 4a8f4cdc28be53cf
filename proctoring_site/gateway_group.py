"""`rungateway --processes N`: N daphne gateways serving one port, so every core serves cameras.

Each gateway gets a listening socket of its own, all bound to the same address with
SO_REUSEPORT: the kernel spreads new connections over them evenly (one socket shared by all
would favour whichever process wakes first). This process opens the sockets, hands each to its
gateway (daphne's `--fd`), and keeps them: when a gateway dies, the connections the kernel sends
to its socket wait in that socket's backlog until the gateway started in its place takes them,
instead of being refused. It restarts a gateway that exits (sooner the longer it had run), and
on SIGTERM or SIGINT stops them all (SIGTERM, then SIGKILL past a grace period) and exits.

Everything the gateways must share (connection limits, figures, the events a dashboard hears)
is in Redis already; nothing here is shared between them but the port.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

RESTART_MIN_S = 0.5  # a gateway that ran a while is restarted this soon
RESTART_MAX_S = 10.0  # one that keeps dying at start-up is retried no oftener than this
STABLE_AFTER_S = 30.0  # running this long resets its back-off
STOP_GRACE_S = 10.0  # how long a gateway has to close its sockets on SIGTERM
BACKLOG = 1024


def default_processes() -> int:
    """The cores this process may run on (its affinity, as under `taskset` or a cgroup), else 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def listening_sockets(bind: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on `bind`:`port`, all with SO_REUSEPORT, inheritable."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((bind, port))
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass
class Gateway:
    index: int
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = RESTART_MIN_S
    restart_at: float | None = None
    restarts: int = 0
    pids: list[int] = field(default_factory=list)  # every PID it has had, for the log


class GatewayGroup:
    """Runs one gateway per socket of `sockets`, each as `argv_for(fd)`, until `stop()`."""

    def __init__(self, sockets: Sequence[socket.socket], argv_for: Callable[[int], list[str]]) -> None:
        self.gateways = [Gateway(index, sock) for index, sock in enumerate(sockets)]
        self.argv_for = argv_for
        self.stopping = threading.Event()

    def run(self, on_start: Callable[[Gateway], None] | None = None) -> int:
        """Supervises until asked to stop; returns the exit status (0: a clean stop)."""
        for gateway in self.gateways:
            self._start(gateway, on_start)
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for gateway in self.gateways:
                if gateway.process is not None and gateway.process.poll() is not None:
                    self._exited(gateway, now)
                if gateway.restart_at is not None and now >= gateway.restart_at:
                    self._start(gateway, on_start)
        return self._stop_all()

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _start(self, gateway: Gateway, on_start: Callable[[Gateway], None] | None) -> None:
        fd = gateway.sock.fileno()
        gateway.process = subprocess.Popen(self.argv_for(fd), pass_fds=(fd,), preexec_fn=_die_with_parent)
        gateway.started_at = time.monotonic()
        gateway.restart_at = None
        gateway.pids.append(gateway.process.pid)
        log.info("gateway %d started (pid %d)", gateway.index, gateway.process.pid)
        if on_start is not None:
            on_start(gateway)

    def _exited(self, gateway: Gateway, now: float) -> None:
        assert gateway.process is not None
        code = gateway.process.returncode
        ran = now - gateway.started_at
        gateway.backoff = RESTART_MIN_S if ran >= STABLE_AFTER_S else min(gateway.backoff * 2, RESTART_MAX_S)
        gateway.restart_at = now + gateway.backoff
        gateway.restarts += 1
        log.warning(
            "gateway %d (pid %d) exited with %s after %.1f s; restarting in %.1f s",
            gateway.index,
            gateway.process.pid,
            code,
            ran,
            gateway.backoff,
        )
        gateway.process = None

    def _stop_all(self) -> int:
        running = [g.process for g in self.gateways if g.process is not None and g.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("gateway pid %d did not stop in %.0f s; killing it", process.pid, STOP_GRACE_S)
                process.kill()
                process.wait()
        for gateway in self.gateways:
            gateway.sock.close()
        return 0


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if this supervisor dies (even by SIGKILL), so no
    gateway is left serving on its own. Linux only; elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(bind: str, port: int, processes: int, argv_for: Callable[[int], list[str]]) -> int:
    """Opens the sockets and supervises `processes` gateways until SIGTERM or SIGINT."""
    group = GatewayGroup(listening_sockets(bind, port, processes), argv_for)
    signal.signal(signal.SIGTERM, group.stop)
    signal.signal(signal.SIGINT, group.stop)
    print(f"rungateway: {processes} gateways on {bind}:{port} (pid {os.getpid()})", flush=True)
    return group.run(lambda g: print(f"rungateway: gateway {g.index} is pid {g.pids[-1]}", flush=True))
