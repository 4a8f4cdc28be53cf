"""A fake proctoring API for the benchmarks: answers every POST after a fixed latency, on asyncio.

    .venv/bin/python -m bench.fake_api --port 8765 --latency-ms 200 [--jitter-ms 0] [--error-rate 0.0]

One event loop, raw HTTP/1.1 with keep-alive (bodies by Content-Length), so that hundreds of
connections waiting out their latency cost no threads and little CPU. Any POST but /reset is an
analysis: after the latency it answers 200 `{"flags": [], "ok": true}`, or 503 for a random
`--error-rate` fraction. `GET /stats` returns the tally (see `Tally.as_json`); `POST /reset`
clears it. Binds 127.0.0.1 only and prints its analysis URL once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HOST = "127.0.0.1"
ANALYZE_PATH = "/v1/analyze"
OK_BODY = json.dumps({"flags": [], "ok": True}).encode()
FLAGGED_BODY = json.dumps({"flags": ["no_face"], "ok": True}).encode()
ERROR_BODY = json.dumps({"error": "unavailable"}).encode()
REASONS = {200: "OK", 404: "Not Found", 411: "Length Required", 503: "Service Unavailable"}


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class Knobs:
    latency: float  # seconds before every analysis answer
    jitter: float  # up to this many seconds more, uniformly at random
    error_rate: float  # fraction of analyses answered 503
    flag_rate: float = 0.0  # fraction of 200 answers that flag no_face (results become incidents)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Tally:
    """What the API has seen since it started or was last reset. Times are `time.time()`."""

    requests: int = 0
    answered_ok: int = 0
    answered_503: int = 0
    without_key: int = 0
    keys: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)  # keys answered 200
    duplicates: int = 0  # requests whose key had already been answered 200
    connections: int = 0  # that sent at least one analysis
    in_flight: int = 0
    max_in_flight: int = 0
    busy_seconds: float = 0.0  # summed over requests: arrival to answer (mean in flight = this / span)
    gaps: list[float] = field(default_factory=list)  # on one connection: an answer to the next request
    # Arrival minus the frame's `captured_at` (for binary frames, when the gateway received it):
    # the pipeline's delay from gateway to API.
    frame_ages: list[float] = field(default_factory=list)
    # Per analysis: arrival, answer, client id, the frame's age on arrival (for bench.fairness).
    samples: list[tuple[float, float, str, float]] = field(default_factory=list)
    first_request_at: float | None = None
    last_request_at: float | None = None
    last_response_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        gaps = sorted(self.gaps)
        return {
            "requests": self.requests,
            "answered_ok": self.answered_ok,
            "answered_503": self.answered_503,
            "without_key": self.without_key,
            "distinct_keys": len(self.keys),
            "duplicate_keys": self.duplicates,
            "connections": self.connections,
            "max_in_flight": self.max_in_flight,
            "busy_seconds": round(self.busy_seconds, 4),
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "last_response_at": self.last_response_at,
            "gap_ms": _gap_summary(gaps),
            "frame_age_ms": _age_summary(sorted(self.frame_ages)),
        }


def _age_summary(ages: list[float]) -> dict[str, float | int]:
    if not ages:
        return {"count": 0}

    def pct(share: float) -> float:
        return round(ages[min(len(ages) - 1, int(share * len(ages)))] * 1000, 2)

    return {"count": len(ages), "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)}


_CAPTURED_AT = re.compile(rb'name="captured_at"\r\n\r\n([^\r]+)\r\n')
_CLIENT_ID = re.compile(rb'name="client_id"\r\n\r\n([^\r]+)\r\n')


def _frame_age(body: bytes, arrived: float) -> float | None:
    found = _CAPTURED_AT.search(body)
    if found is None:
        return None
    try:
        return arrived - datetime.fromisoformat(found.group(1).decode()).timestamp()
    except ValueError:
        return None


def _gap_summary(gaps: list[float]) -> dict[str, float | int]:
    if not gaps:
        return {"count": 0}
    return {
        "count": len(gaps),
        "p50": round(statistics.median(gaps) * 1000, 2),
        "p95": round(gaps[min(len(gaps) - 1, int(0.95 * len(gaps)))] * 1000, 2),
        "max": round(gaps[-1] * 1000, 2),
    }


class FakeApi:
    """The request handling; `serve` binds it to a port."""

    def __init__(self, knobs: Knobs, seed: int = 1) -> None:
        self.knobs = knobs
        self.tally = Tally()
        self.random = random.Random(seed)

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered_at: float | None = None  # of this connection's last analysis
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                analysis = request.method == "POST" and request.path != "/reset"
                if analysis and answered_at is None:
                    self.tally.connections += 1  # counted at its first analysis: /stats calls are not
                elif analysis and answered_at is not None:
                    self.tally.gaps.append(time.time() - answered_at)
                status, body = await self.answer(request)
                writer.write(response_bytes(status, body))
                await writer.drain()
                if analysis:
                    answered_at = time.time()
                if request.headers.get("connection", "").lower() == "close":
                    break
        except BadRequest:
            writer.write(response_bytes(411, b"{}", close=True))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, request: Request) -> tuple[int, bytes]:
        if request.method == "GET" and request.path == "/stats":
            return 200, json.dumps(self.tally.as_json()).encode()
        if request.method == "GET" and request.path == "/samples":
            return 200, json.dumps(self.tally.samples).encode()
        if request.method == "POST" and request.path == "/reset":
            self.tally = Tally(in_flight=self.tally.in_flight)
            return 200, b"{}"
        if request.method != "POST":
            return 404, b"{}"
        return await self.analyze(request)

    async def analyze(self, request: Request) -> tuple[int, bytes]:
        tally = self.tally
        arrived = time.time()
        tally.requests += 1
        tally.first_request_at = tally.first_request_at or arrived
        tally.last_request_at = arrived
        age = _frame_age(request.body, arrived)
        if age is not None:
            tally.frame_ages.append(age)
        key = request.headers.get("idempotency-key")
        if key is None:
            tally.without_key += 1
        elif key in tally.delivered:
            tally.duplicates += 1
        fails = self.random.random() < self.knobs.error_rate
        tally.in_flight += 1
        tally.max_in_flight = max(tally.max_in_flight, tally.in_flight)
        try:
            await asyncio.sleep(self.knobs.latency + self.random.random() * self.knobs.jitter)
        finally:
            tally.in_flight -= 1
        answered = time.time()
        tally.busy_seconds += answered - arrived
        client = _CLIENT_ID.search(request.body)
        if age is not None and client is not None:
            tally.samples.append((arrived, answered, client.group(1).decode(), age))
        tally.last_response_at = answered
        if key is not None:
            tally.keys.add(key)
        if fails:
            tally.answered_503 += 1
            return 503, ERROR_BODY
        tally.answered_ok += 1
        if key is not None:
            tally.delivered.add(key)
        if self.knobs.flag_rate and self.random.random() < self.knobs.flag_rate:
            return 200, FLAGGED_BODY
        return 200, OK_BODY


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request from a keep-alive connection; None when the client closed it between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest("chunked bodies are not supported; send Content-Length")
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method=method, path=target.split("?", 1)[0], headers=headers, body=body)


def response_bytes(status: int, body: bytes, close: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


async def serve(knobs: Knobs, port: int, seed: int) -> None:
    """Serves until SIGTERM or SIGINT."""
    api = FakeApi(knobs, seed)
    server = await asyncio.start_server(api.handle_connection, HOST, port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"fake API listening on http://{HOST}:{bound}{ANALYZE_PATH}", flush=True)
    async with server:
        await stop.wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="answer delay (default 200)")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="up to this much more, at random")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 503 (default 0)")
    parser.add_argument(
        "--flag-rate", type=float, default=0.0, help='fraction of 200s with flags ["no_face"] (default 0)'
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for jitter and errors (default 1)")
    args = parser.parse_args(argv)
    if (
        args.latency_ms < 0
        or args.jitter_ms < 0
        or not 0 <= args.error_rate <= 1
        or not 0 <= args.flag_rate <= 1
    ):
        parser.error(f"latency and jitter must be >= 0 and error rate in [0, 1], got {vars(args)!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    knobs = Knobs(args.latency_ms / 1000, args.jitter_ms / 1000, args.error_rate, args.flag_rate)
    asyncio.run(serve(knobs, args.port, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
