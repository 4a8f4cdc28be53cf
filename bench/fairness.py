"""Fairness and freshness under backlog: plain FIFO, fair order, and fair order with
latest-frame-wins, side by side in one run, against the well-behaved clients alone (unloaded).

Clients send frames at a steady rate (most at `--fps`, `--heavy` of them at `--heavy-fps`), through
`enqueue_frame` in this process (the gateway's own enqueue script; the gateway's CPU is not what
is measured here); `--processes` workers with `--concurrency` threads each forward them to a fake
API answering in `--latency-ms`, so the workers' capacity is processes × concurrency / latency:
set it below the offered load and above the well-behaved clients' share. Frames are never
dropped as stale (`PROCTORING_MAX_FRAME_AGE=0`) and no client is refused (no per-client or queue
cap), so FIFO's backlog shows.

    .venv/bin/python -m bench.fairness --clients 200 --heavy 20 --fps 2 --heavy-fps 10 \\
        --latency-ms 200 --processes 2 --concurrency 45 --seconds 60 [--json]

For each mode it prints, per kind of client, the frames' wait (received → at the API) p50/p95/p99
and the age of the answer a proctor sees (received → answered), and the p95 wait per 10 s window
(a growing backlog shows as a growing row). Everything it starts it stops by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import pipeline
from bench.fake_api_process import FakeApiProcess
from bench.images import make_frame
from bench.stack import migrated_stack, progress, start_process, stop_on_sigterm, stop_process

WINDOW_SECONDS = 10.0
DRAIN_SECONDS = 120.0  # at most, after the load stops, for the backlog to reach the API


@dataclass(frozen=True)
class Mode:
    label: str
    order: str  # PROCTORING_QUEUE_ORDER
    coalesce: str  # PROCTORING_COALESCE
    heavy: bool  # whether the heavy senders send


MODES = (
    Mode("unloaded", "fifo", "", heavy=False),
    Mode("fifo", "fifo", "", heavy=True),
    Mode("fair", "fair", "", heavy=True),
    Mode("fair+latest", "fair", "latest", heavy=True),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200, help="clients in all (heavy ones included)")
    parser.add_argument("--heavy", type=int, default=20, help="of which send at --heavy-fps")
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--heavy-fps", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=45)
    parser.add_argument("--seconds", type=float, default=60.0, help="of load per mode")
    parser.add_argument("--modes", default=",".join(mode.label for mode in MODES))
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def start_workers(env: dict[str, str], mode: Mode, args: argparse.Namespace, workdir: Path) -> list[Any]:
    worker_env = {
        **env,
        "PROCTORING_QUEUE_ORDER": mode.order,
        "PROCTORING_WORKER_CONCURRENCY": str(args.concurrency),
        "PROCTORING_MAX_FRAME_AGE": "0",
        "PROCTORING_STORE_RESULTS": "false",
    }
    command = [sys.executable, "manage.py", "rqworker", "proctoring"]
    workers = [
        start_process(command, worker_env, workdir / f"worker-{mode.label}-{index}.log")
        for index in range(args.processes)
    ]
    from proctoring.store.connections import get_redis

    deadline = time.monotonic() + 60
    while get_redis().scard("rq:workers:proctoring") < args.processes:
        if time.monotonic() > deadline or any(worker.poll() is not None for worker in workers):
            raise RuntimeError(f"workers did not start; see {workdir}")
        time.sleep(0.2)
    return workers


def send_load(mode: Mode, args: argparse.Namespace, frame_bytes: bytes) -> int:
    """Sends every client's frames on its schedule for `--seconds`; returns how many were sent."""
    from django.conf import settings

    from proctoring.core.frames import parse_image
    from proctoring.queue.enqueue import enqueue_frame

    settings.PROCTORING_COALESCE = mode.coalesce  # the enqueue decides it
    frame = parse_image(frame_bytes, settings.PROCTORING_MAX_FRAME_BYTES)
    clients = []
    for index in range(args.clients):
        heavy = index < args.heavy
        if heavy and not mode.heavy:
            continue
        rate = args.heavy_fps if heavy else args.fps
        name = f"{mode.label}:{'heavy' if heavy else 'light'}:{index}"
        clients.append([name, 1.0 / rate, (index / args.clients) / rate, 0])  # spread the first frames
    start = time.monotonic()
    sent = 0
    next_report = start + 5
    while True:
        now = time.monotonic() - start
        if now >= args.seconds:
            break
        for client in clients:
            name, period, due, seq = client
            while due <= now:
                seq += 1
                enqueue_frame(name, name, seq, frame)
                sent += 1
                due += period
            client[2], client[3] = due, seq
        if time.monotonic() >= next_report:
            progress(f"{mode.label}: {sent:,} frames sent in {now:.0f} s")
            next_report += 5
        time.sleep(0.005)
    return sent


def drain(api: FakeApiProcess, expected: int) -> None:
    """Waits until the API has answered every frame expected (or the drain time is up)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        if api.stats()["answered_ok"] >= expected:
            return
        time.sleep(0.5)
    progress(f"drain: the API has not seen all {expected:,} frames after {DRAIN_SECONDS:.0f} s")


def summarise(samples: list[list[Any]], started: float) -> dict[str, Any]:
    """Per kind of client: wait and answer age p50/p95/p99 (ms), and p95 wait per window."""
    by_kind: dict[str, dict[str, list[float]]] = {}
    windows: dict[str, dict[int, list[float]]] = {}
    for arrived, answered, client, age in samples:
        kind = client.split(":")[1]
        figures = by_kind.setdefault(kind, {"wait": [], "answer_age": []})
        figures["wait"].append(age)
        figures["answer_age"].append(age + (answered - arrived))
        received = arrived - age - started
        windows.setdefault(kind, {}).setdefault(int(received // WINDOW_SECONDS), []).append(age)
    summary: dict[str, Any] = {}
    for kind, figures in by_kind.items():
        summary[kind] = {
            "frames": len(figures["wait"]),
            **{name: _quantiles(values) for name, values in figures.items()},
            "wait_p95_by_window_ms": [
                round(_quantile(sorted(values), 0.95) * 1000) for _, values in sorted(windows[kind].items())
            ],
        }
    return summary


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {f"p{round(q * 100)}": round(_quantile(ordered, q) * 1000, 1) for q in (0.5, 0.95, 0.99)}


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_mode(
    mode: Mode, args: argparse.Namespace, env: dict[str, str], api: FakeApiProcess, workdir: Path
) -> dict[str, Any]:
    from proctoring.store.connections import get_redis

    get_redis().flushdb()
    workers = start_workers(env, mode, args, workdir)
    try:
        api.reset()
        started = time.time()
        sent = send_load(mode, args, FRAME)
        coalesced = int(get_redis().hget("proctoring:stats:totals", "coalesced") or 0)
        backlog = int(get_redis().llen("rq:queue:proctoring"))
        drain(api, sent - coalesced)
        samples = api.samples()
    finally:
        for worker in workers:
            stop_process(worker)
    return {
        "mode": mode.label,
        "order": mode.order,
        "coalesce": mode.coalesce or "off",
        "sent": sent,
        "coalesced": coalesced,
        "backlog_at_end": backlog,
        "answered": len(samples),
        "clients": summarise(samples, started),
    }


FRAME = b""


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['clients']} clients ({report['heavy']} at {report['heavy_fps']:g} fps, the rest at "
        f"{report['fps']:g}), API {report['latency_ms']:g} ms, "
        f"capacity ~{report['capacity_fps']:,.0f} frames/s "
        f"for {report['offered_fps']:,.0f} offered ({report['light_fps']:,.0f} from the well-behaved); "
        f"{report['seconds']:g} s of load per mode"
    )
    print()
    header = "mode          clients  frames   wait p50/p95/p99 ms        answer age p50/p95/p99 ms"
    header += "   p95 wait per 10 s (ms)"
    print(header)
    for run in report["runs"]:
        for kind in ("light", "heavy"):
            figures = run["clients"].get(kind)
            if not figures:
                continue
            wait, age = figures["wait"], figures["answer_age"]
            print(
                f"{run['mode']:<13} {kind:<8} {figures['frames']:>6}   "
                f"{wait['p50']:>7} / {wait['p95']:>7} / {wait['p99']:>7}   "
                f"{age['p50']:>7} / {age['p95']:>7} / {age['p99']:>7}   "
                f"{' '.join(str(value) for value in figures['wait_p95_by_window_ms'])}"
            )
        print(
            f"{'':<13} sent {run['sent']:,}, replaced {run['coalesced']:,}, waiting when the load stopped "
            f"{run['backlog_at_end']:,}, answered {run['answered']:,}"
        )


def main(argv: list[str] | None = None) -> int:
    global FRAME
    args = parse_args(argv)
    stop_on_sigterm()
    FRAME = make_frame(20, 320, 240)
    modes = [mode for mode in MODES if mode.label in args.modes.split(",")]
    light = args.clients - args.heavy
    report: dict[str, Any] = {
        "clients": args.clients,
        "heavy": args.heavy,
        "fps": args.fps,
        "heavy_fps": args.heavy_fps,
        "latency_ms": args.latency_ms,
        "seconds": args.seconds,
        "capacity_fps": args.processes * args.concurrency / (args.latency_ms / 1000),
        "offered_fps": light * args.fps + args.heavy * args.heavy_fps,
        "light_fps": light * args.fps,
    }
    with tempfile.TemporaryDirectory(prefix="fairness-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["PROCTORING_STORE_RESULTS"] = "false"
        with FakeApiProcess(workdir, args.latency_ms) as api:
            with migrated_stack(
                workdir, max_pending=1_000_000, settings="proctoring_site.settings", api_url=api.url
            ) as env:
                env = {**env, "PROCTORING_MAX_QUEUED": "10000000", "PROCTORING_PRIORITY_AFTER_FLAG": "0"}
                pipeline.setup_django(env)
                report["runs"] = [run_mode(mode, args, env, api, workdir) for mode in modes]
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
