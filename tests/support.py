"""Test helpers: images, a recording proctoring API on 127.0.0.1, and real server processes."""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image

BASE_DIR = Path(__file__).resolve().parent.parent


def jpeg_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (120, 160, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


FIXTURES = BASE_DIR / "tests" / "fixtures"


def start_django(
    changes: Mapping[str, str | None], code: str = "", setup: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs `django.setup()` (unless not `setup`), then `code`, in a new interpreter; a change of
    None unsets the variable."""
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="proctoring_site.settings")
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}" if setup else code],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def fixture(name: str) -> bytes:
    """A committed test image (tests/fixtures/faces/, see its README)."""
    return (FIXTURES / "faces" / name).read_bytes()


def png_bytes(width: int = 32, height: int = 24, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def claiming_size(image: bytes, width: int, height: int) -> bytes:
    """`image` (a small real JPEG or PNG) with its header rewritten to claim `width` × `height`:
    a few hundred bytes that a decoder would take for a huge picture (a PNG's IHDR CRC is
    recomputed; a JPEG's frame header has none)."""
    size = width.to_bytes(2, "big"), height.to_bytes(2, "big")
    if image.startswith(b"\x89PNG"):
        ihdr = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + image[24:29]
        return image[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + image[33:]
    start = 2  # walk the segments to the frame header (SOF0 or SOF2)
    while image[start + 1] not in (0xC0, 0xC2):
        start += 2 + int.from_bytes(image[start + 2 : start + 4], "big")
    return image[: start + 5] + size[1] + size[0] + image[start + 9 :]


def wait_until(predicate: Callable[[], Any], timeout: float, message: str, interval: float = 0.05) -> Any:
    """Polls `predicate` until it returns something true, or fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


@dataclass
class RecordedCall:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    files: dict[str, tuple[str, str, bytes]]  # name -> (filename, content type, bytes)
    body: bytes = b""  # as it came (a webhook's signed JSON)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True, "flags": []})
    delay: float = 0.0
    content_type: str = "application/json"


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a worker's 64 threads connecting at once to a test
    # process busy elsewhere overflow it, and a dropped SYN is retried after 1 s, past a 0.5 s
    # connect timeout, which reads as an unreachable API. A real API's backlog is far larger.
    request_queue_size = 128


class LocalHttpServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving `handler` until `stop()`: the
    test platforms' (an exam platform's pages, an LMS's) own web servers."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class RecordingApi:
    """A real HTTP server standing in for the proctoring API: it records every call and answers
    from a script (a list of replies, the last repeating), or blocks while `hold` is set."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self.replies: list[Reply] = [Reply()]
        self.hold = threading.Event()  # set -> requests wait until release()
        self._released = threading.Event()
        self._lock = threading.Lock()
        # Bound now (its port is ours), listening from start(): until then a connection to it is
        # refused, which is how a test plays an API that is down without losing its port to
        # another socket's ephemeral port in between.
        self._server = _Server(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self._server.server_bind()
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/analyze"

    def start(self) -> RecordingApi:
        self._server.server_activate()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)

    def block(self) -> None:
        self._released.clear()
        self.hold.set()

    def release(self) -> None:
        self.hold.clear()
        self._released.set()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                fields, files = parse_multipart(self.headers.get("Content-Type", ""), body)
                with api._lock:
                    api.calls.append(
                        RecordedCall(arrived, self.path, dict(self.headers), fields, files, body)
                    )
                if api.hold.is_set():
                    api._released.wait(60)
                reply = api._next_reply()
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, part.get_content_type(), data)
        else:
            fields[str(name)] = data.decode()
    return fields, files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """A real server process of ours (worker, daphne), stopped by its PID."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a server process: the tests' settings (database, Redis, API) plus overrides."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "PROCTORING_API_URL": settings.PROCTORING_API_URL,
            "PROCTORING_API_KEY": settings.PROCTORING_API_KEY,
            "PROCTORING_API_TIMEOUT": str(settings.PROCTORING_API_TIMEOUT),
            "PROCTORING_JOB_ATTEMPTS": str(settings.PROCTORING_JOB_ATTEMPTS),
            "PROCTORING_BACKOFF_SECONDS": str(settings.PROCTORING_BACKOFF_SECONDS),
            "PROCTORING_MAX_PENDING_PER_CLIENT": str(settings.PROCTORING_MAX_PENDING_PER_CLIENT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def noise_jpeg(width: int = 640, height: int = 480, quality: int = 90, seed: int = 7) -> bytes:
    """A JPEG that does not compress: random pixels, so its size grows with its area."""
    import random

    pixels = random.Random(seed).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def failure_text(job: Any) -> str:
    """The traceback RQ kept for a failed job."""
    result = job.latest_result()
    assert result is not None and result.exc_string, f"job {job.id} has no failure recorded"
    return str(result.exc_string)


def stale_count() -> int:
    """Frames dropped as stale, in all (the counter the worker keeps)."""
    from proctoring.store import keys
    from proctoring.store.connections import get_redis

    return int(get_redis().get(keys.stale_count()) or 0)


def job_writes(meta: Any, job_id: str, queue: Any) -> list[Any]:
    """The writes the enqueue script makes for this frame's job, as commands."""
    from proctoring.queue import enqueue

    if not queue.redis_server_version:
        queue.get_redis_server_version()
    return enqueue._template(queue).commands(job_id, enqueue._description(meta), meta.received_at)
