"""Throughput of the workers: N queued frames through W `rqworker proctoring` processes to a fake API.

Starts its own redis-server, SQLite database (migrated) and `bench.fake_api`, makes a few attempts,
fills the queue with N frames through `enqueue_frame` (in this process), then starts W workers
(`manage.py rqworker proctoring`, C jobs at once each) and measures frames/s, whether every frame
was delivered exactly once, the workers' RSS and CPU, and the time a job spends beyond the API's
latency. `--baseline` then runs the stock forking `rq.Worker` and `rq.SimpleWorker` (one process
each, fewer frames) in the same stack. Everything it starts it stops by PID.

    .venv/bin/python -m bench.worker_throughput --frames 5000 --processes 4 --concurrency 64 \\
        --latency-ms 200 [--baseline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import pipeline
from bench.fake_api_process import FakeApiProcess
from bench.images import make_frame
from bench.stack import (
    migrated_stack,
    progress,
    start_process,
    stop_on_sigterm,
    stop_process,
    tree_cpu_seconds,
    tree_memory_kb,
)

ATTEMPTS = 8  # frames are spread over this many attempts (clients), round robin
POLL_SECONDS = 0.2
PROGRESS_SECONDS = 2.0
SETTLE_SECONDS = 15.0  # after the last result: for the queue, registries and slots to empty


@dataclass(frozen=True)
class Setting:
    """One row of the table: which worker, how many processes, how many jobs each at once."""

    label: str
    worker_class: str | None  # None: the project's own (`RQ["WORKER_CLASS"]`)
    processes: int
    concurrency: int
    frames: int

    @property
    def slots(self) -> int:
        return self.processes * self.concurrency


@dataclass
class Watch:
    """What polling saw while the workers ran."""

    stored: int = 0
    wall_seconds: float = 0.0
    peak_rss_kb: int = 0
    end_rss_kb: int = 0
    end_pss_kb: int = 0
    cpu_seconds: float = 0.0  # from the first stored result to the last
    cpu_at_first: float | None = None
    stored_at_first: int = 0


# --- Workers ------------------------------------------------------------------------------------


def start_workers(env: dict[str, str], setting: Setting, workdir: Path) -> list[Any]:
    """W processes of `manage.py rqworker proctoring` (exactly, plus `--worker-class` for stock)."""
    extra = ["--worker-class", setting.worker_class] if setting.worker_class else []
    worker_env = {**env, "PROCTORING_WORKER_CONCURRENCY": str(setting.concurrency)}
    command = [sys.executable, "manage.py", "rqworker", "proctoring", *extra]
    return [
        start_process(command, worker_env, workdir / f"worker-{setting.label}-{index}.log")
        for index in range(setting.processes)
    ]


def watch(workers: list[Any], setting: Setting, timeout: float) -> Watch:
    """Polls the results table until all N frames are stored, the timeout passes or a worker dies;
    samples the workers' RSS and CPU on the way and prints a progress line every few seconds."""
    seen = Watch()
    pids = [worker.pid for worker in workers]
    start = time.monotonic()
    next_progress = start + PROGRESS_SECONDS
    while True:
        now = time.monotonic()
        seen.stored = pipeline.stored_count()
        seen.peak_rss_kb = max(seen.peak_rss_kb, tree_memory_kb(pids)["rss"])
        if seen.stored and seen.cpu_at_first is None:
            seen.cpu_at_first, seen.stored_at_first = tree_cpu_seconds(pids), seen.stored
        if seen.stored >= setting.frames:
            seen.wall_seconds = now - start
            break
        if now - start > timeout or any(worker.poll() is not None for worker in workers):
            seen.wall_seconds = now - start
            progress(f"{setting.label}: gave up with {seen.stored:,}/{setting.frames:,} stored")
            break
        if now >= next_progress:
            rate = seen.stored / (now - start)
            progress(f"{setting.label}: {seen.stored:,}/{setting.frames:,} frames stored ({rate:,.0f}/s)")
            next_progress += PROGRESS_SECONDS
        time.sleep(POLL_SECONDS)
    memory = tree_memory_kb(pids)
    seen.end_rss_kb, seen.end_pss_kb = memory["rss"], memory["pss"]
    seen.cpu_seconds = tree_cpu_seconds(pids) - (seen.cpu_at_first or 0.0)
    return seen


# --- One row ------------------------------------------------------------------------------------


@dataclass
class Stack:
    env: dict[str, str]
    workdir: Path
    api: FakeApiProcess
    attempts: list[str]
    frame: bytes
    latency_ms: float
    timeout: float | None


def phase_timeout(stack: Stack, setting: Setting) -> float:
    """Generous: five times the ideal time, plus a minute for starting processes."""
    if stack.timeout:
        return stack.timeout
    return 60 + 5 * setting.frames * max(stack.latency_ms, 20) / 1000 / setting.slots


def run_setting(stack: Stack, setting: Setting) -> dict[str, Any]:
    """Fills the queue, runs the workers until every frame is stored, stops them, returns figures."""
    pipeline.clear_results()
    stack.api.reset()
    failed_before = pipeline.queue_state(stack.attempts)["failed"]
    started = time.monotonic()
    pipeline.enqueue_frames(stack.attempts, stack.frame, setting.frames)
    progress(f"{setting.label}: queued {setting.frames:,} frames in {time.monotonic() - started:.1f} s")
    pipeline.reset_redis_stats()
    _, redis_cpu_before = pipeline.redis_work()
    workers = start_workers(stack.env, setting, stack.workdir)
    try:
        progress(f"{setting.label}: {setting.processes} process(es), pids {[w.pid for w in workers]}")
        seen = watch(workers, setting, phase_timeout(stack, setting))
        state = pipeline.settle(stack.attempts, SETTLE_SECONDS)
        calls, redis_cpu = pipeline.redis_work()
        api_stats = stack.api.stats()
    finally:
        for worker in workers:
            stop_process(worker)
    state["failed"] -= failed_before
    row = figures(setting, stack.latency_ms, seen, state, api_stats)
    row.update(redis_figures(calls, redis_cpu - redis_cpu_before, setting.frames))
    if not row["delivery"]["exactly_once"]:
        keep_logs(stack.workdir, setting)
    return row


def keep_logs(workdir: Path, setting: Setting) -> None:
    """Copies the workers' logs out of the temporary directory, which the run deletes."""
    for log in sorted(workdir.glob(f"worker-{setting.label}-*.log")):
        kept = Path(tempfile.gettempdir()) / f"worker-bench-{os.getpid()}-{log.name}"
        shutil.copyfile(log, kept)
        progress(f"{setting.label}: not delivered exactly once; a worker's log is kept at {kept}")


def figures(
    setting: Setting, latency_ms: float, seen: Watch, state: dict[str, int], api: dict[str, Any]
) -> dict[str, Any]:
    n = setting.frames
    span = (api["last_response_at"] or 0) - (api["first_request_at"] or 0)
    api_rate = n / span if span > 0 else 0.0
    delivery = {
        "frames": n,
        "api_requests": api["requests"],
        "distinct_keys": api["distinct_keys"],
        "duplicate_keys": api["duplicate_keys"],
        "stored_results": state["stored"],
        "failed_jobs": state["failed"],
        "queued_left": state["queued"],
        "started_left": state["started"],
        "pending_slots_left": state["pending_slots"],
    }
    delivery["exactly_once"] = (
        api["distinct_keys"] == n
        and api["duplicate_keys"] == 0
        and state["stored"] == n
        and not any(state[name] for name in ("failed", "queued", "started", "pending_slots"))
    )
    cpu_frames = seen.stored - seen.stored_at_first
    return {
        "label": setting.label,
        "worker_class": setting.worker_class or "proctoring.worker.workers.ProctoringWorker",
        "processes": setting.processes,
        "concurrency": setting.concurrency,
        "frames": n,
        "api_frames_per_second": round(api_rate, 1),
        "api_frames_per_second_per_process": round(api_rate / setting.processes, 1),
        "wall_seconds": round(seen.wall_seconds, 2),
        "wall_frames_per_second": round(seen.stored / seen.wall_seconds, 1) if seen.wall_seconds else 0,
        "ideal_frames_per_second": round(setting.slots / (latency_ms / 1000), 1) if latency_ms else None,
        "api_mean_in_flight": round(api["busy_seconds"] / span, 1) if span > 0 else 0,
        "api_max_in_flight": api["max_in_flight"],
        "api_connections": api["connections"],
        # Time a job slot spends per frame beyond the API's answer, if every slot was always busy.
        "job_overhead_ms": round(setting.slots / api_rate * 1000 - latency_ms, 1) if api_rate else None,
        "connection_gap_ms": api["gap_ms"],
        "worker_rss_kb": seen.end_rss_kb,
        "worker_peak_rss_kb": seen.peak_rss_kb,
        "worker_pss_kb": seen.end_pss_kb,
        "worker_cpu_ms_per_frame": round(seen.cpu_seconds * 1000 / cpu_frames, 2) if cpu_frames else None,
        "delivery": delivery,
    }


def redis_figures(calls: dict[str, int], cpu_seconds: float, frames: int) -> dict[str, Any]:
    """Redis's work per frame while the workers ran (from their start to the queue settled):
    commands (those run by scripts included) and the server's CPU; with each command, those that
    count most first."""
    top = sorted(calls.items(), key=lambda item: -item[1])
    return {
        "redis_commands_per_frame": round(sum(calls.values()) / frames, 1),
        "redis_cpu_ms_per_frame": round(cpu_seconds * 1000 / frames, 3),
        "redis_top_commands_per_frame": {name: round(count / frames, 2) for name, count in top},
    }


# --- Report -------------------------------------------------------------------------------------

COLUMNS = [
    ("worker", "label", "{}"),
    ("W", "processes", "{}"),
    ("C", "concurrency", "{}"),
    ("frames", "frames", "{:,}"),
    ("frames/s (API)", "api_frames_per_second", "{:,.1f}"),
    ("per process", "api_frames_per_second_per_process", "{:,.1f}"),
    ("frames/s (wall)", "wall_frames_per_second", "{:,.1f}"),
    ("ideal", "ideal_frames_per_second", "{:,.0f}"),
    ("in flight", "api_mean_in_flight", "{:,.1f}"),
    ("overhead ms", "job_overhead_ms", "{}"),
    ("CPU ms/frame", "worker_cpu_ms_per_frame", "{}"),
    ("Redis cmds/frame", "redis_commands_per_frame", "{}"),
    ("Redis CPU ms/frame", "redis_cpu_ms_per_frame", "{}"),
    ("RSS MiB (peak)", "worker_rss_kb", "{}"),
    ("PSS MiB", "worker_pss_kb", "{}"),
    ("exactly once", "delivery", "{}"),
]


def _cell(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row[key]
    if key == "worker_rss_kb":
        return f"{value / 1024:.1f} ({row['worker_peak_rss_kb'] / 1024:.1f})"
    if key == "worker_pss_kb":
        return f"{value / 1024:.1f}"
    if key == "delivery":
        return "yes" if value["exactly_once"] else f"NO {value}"
    return "-" if value is None else fmt.format(value)


def print_report(report: dict[str, Any]) -> None:
    print(
        f"frame {report['frame_bytes']:,} bytes ({report['frame_size']} JPEG); API latency "
        f"{report['latency_ms']} ms; {report['attempts']} attempts; fake API CPU "
        f"{report['fake_api_cpu_seconds']} s in all"
    )
    rows = [[_cell(row, key, fmt) for _, key, fmt in COLUMNS] for row in report["runs"]]
    widths = [max(len(title), *(len(row[i]) for row in rows)) for i, (title, _, _) in enumerate(COLUMNS)]
    print("  ".join(title.rjust(width) for (title, _, _), width in zip(COLUMNS, widths, strict=True)))
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    for row in report["runs"]:
        print(f"{row['label']}: connection gap ms {row['connection_gap_ms']}, {row['api_connections']} conns")
        most = list(row["redis_top_commands_per_frame"].items())[:10]
        top = ", ".join(f"{name} {count}" for name, count in most)
        print(f"{row['label']}: Redis commands per frame, most called: {top}")


# --- The run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=5000, help="frames queued (default 5000)")
    parser.add_argument("--processes", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--concurrency", type=int, default=64, help="jobs per process at once (default 64)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="fake API latency (default 200)")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="fake API jitter (default 0)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 503 (default 0)")
    parser.add_argument("--frame-kb", type=float, default=5.0, help="JPEG size in kB, 320x240 (default 5)")
    parser.add_argument(
        "--flag-rate",
        type=float,
        default=0.0,
        help="fraction of answers flagged no_face: incidents (default 0)",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="workers keep no results (PROCTORING_STORE_RESULTS=false)"
    )
    parser.add_argument("--baseline", action="store_true", help="also run rq.Worker and rq.SimpleWorker")
    parser.add_argument("--baseline-frames", type=int, default=40, help="frames per baseline (default 40)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per row (default: generous)")
    parser.add_argument("--settings", default="proctoring_site.settings", help="Django settings module")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if min(args.frames, args.processes, args.concurrency, args.baseline_frames) < 1 or args.frame_kb <= 0:
        parser.error(f"counts and --frame-kb must be positive, got {vars(args)!r}")
    return args


def settings_to_run(args: argparse.Namespace) -> list[Setting]:
    rows = [Setting("ProctoringWorker", None, args.processes, args.concurrency, args.frames)]
    if args.baseline:
        rows.append(Setting("rq.Worker", "rq.Worker", 1, 1, args.baseline_frames))
        rows.append(Setting("rq.SimpleWorker", "rq.SimpleWorker", 1, 1, args.baseline_frames))
    return rows


def measure(args: argparse.Namespace, workdir: Path, frame: bytes) -> dict[str, Any]:
    if args.no_store:
        os.environ["PROCTORING_STORE_RESULTS"] = "false"  # child_env passes it on to every process
    with FakeApiProcess(workdir, args.latency_ms, args.jitter_ms, args.error_rate, args.flag_rate) as api:
        max_pending = 1_000_000
        with migrated_stack(workdir, max_pending=max_pending, settings=args.settings, api_url=api.url) as env:
            pipeline.setup_django(env)
            attempts = pipeline.create_attempts(ATTEMPTS)
            stack = Stack(env, workdir, api, attempts, frame, args.latency_ms, args.timeout)
            runs = [run_setting(stack, setting) for setting in settings_to_run(args)]
        api_cpu = api.cpu_seconds()
    return {"runs": runs, "fake_api_cpu_seconds": round(api_cpu, 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()  # a kill stops our children too
    frame = make_frame(args.frame_kb, 320, 240)
    progress(f"frame: 320x240 JPEG, {len(frame):,} bytes")
    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp:
        measured = measure(args, Path(tmp), frame)
    report = {
        "frame_bytes": len(frame),
        "frame_size": "320x240",
        "latency_ms": args.latency_ms,
        "error_rate": args.error_rate,
        "flag_rate": args.flag_rate,
        "results_stored": not args.no_store,
        "attempts": ATTEMPTS,
        **measured,
    }
    report["exactly_once"] = all(run["delivery"]["exactly_once"] for run in report["runs"])
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if report["exactly_once"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
