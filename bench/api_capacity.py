"""The fake API's own capacity: C keep-alive connections POST a 5 KB body at it, closed loop.

    .venv/bin/python -m bench.api_capacity --connections 250 --seconds 10 --latency-ms 200 [--json]

Starts `bench.fake_api` as a child, drives it from one asyncio loop here, and prints answers/s
against the ideal (connections / latency) and the CPU the API process used. Stops it by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stack import (
    HOST,
    progress,
    start_process,
    stop_on_sigterm,
    stop_process,
    tree_cpu_seconds,
    wait_for_port,
)
from proctoring_site.embedded_redis import free_port

BODY = b"x" * 5000


def request_bytes(port: int, key: int) -> bytes:
    head = (
        f"POST /v1/analyze HTTP/1.1\r\nHost: {HOST}:{port}\r\nIdempotency-Key: k{key}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def _read_answer(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length"))
    await reader.readexactly(length)


async def _connection(port: int, first_key: int, until: float, answered: list[int]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    key = first_key
    try:
        while time.monotonic() < until:
            writer.write(request_bytes(port, key))
            await _read_answer(reader)
            answered[0] += 1
            key += 1
    finally:
        writer.close()


async def drive(port: int, connections: int, seconds: float) -> tuple[int, float]:
    """Returns (answers, elapsed seconds)."""
    answered = [0]
    start = time.monotonic()
    until = start + seconds
    await asyncio.gather(*(_connection(port, i * 10_000_000, until, answered) for i in range(connections)))
    return answered[0], time.monotonic() - start


def measure(connections: int, seconds: float, latency_ms: float) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "bench.fake_api", "--port", str(port), "--latency-ms", str(latency_ms)]
    with tempfile.TemporaryDirectory(prefix="api-capacity-") as tmp:
        log_path = Path(tmp) / "fake_api.log"
        api = start_process(command, dict(os.environ), log_path)
        try:
            wait_for_port(api, port, log_path, name="fake API")
            cpu_before = tree_cpu_seconds([api.pid])
            progress(f"{connections} connections for {seconds} s at {latency_ms} ms")
            answers, elapsed = asyncio.run(drive(port, connections, seconds))
            cpu = tree_cpu_seconds([api.pid]) - cpu_before
        finally:
            stop_process(api)
    return {
        "connections": connections,
        "latency_ms": latency_ms,
        "answers": answers,
        "answers_per_second": round(answers / elapsed, 1),
        "ideal_per_second": round(connections / (latency_ms / 1000), 1) if latency_ms else None,
        "api_cpu_seconds": round(cpu, 2),
        "api_cpu_percent": round(100 * cpu / elapsed, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    figures = measure(args.connections, args.seconds, args.latency_ms)
    print(json.dumps(figures) if args.json else "\n".join(f"{k:20} {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
