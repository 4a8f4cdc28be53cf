"""Load on the gateway alone: N camera clients stream real JPEGs at F frames/s to one daphne.

Starts its own redis-server, SQLite database and daphne (no worker, so every acked frame stays
queued), runs the clients open loop, and prints ack latency, throughput, Redis memory per queued
frame (against a plain SET of the same bytes) and daphne's RSS. Everything it starts it stops by PID.

    .venv/bin/python bench/gateway_load.py --clients 50 --fps 2 --seconds 20 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `python bench/gateway_load.py` puts bench/ on the path, not the project: make `bench` importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rq.job import Job
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.fake_api_process import FakeApiProcess
from bench.images import make_frame
from bench.stack import (
    HOST,
    UNUSED_API_URL,
    manage,
    memory_kb,
    migrated_stack,
    progress,
    start_process,
    stop_on_sigterm,
    stop_process,
    tree_cpu_seconds,
    tree_memory_kb,
    wait_for_port,
)
from proctoring.queue import freshness
from proctoring.queue.metrics import LOOP_LAG, LOOP_LAG_BUCKETS_MS
from proctoring.store import keys
from proctoring_site.embedded_redis import free_port

PLAIN_KEY = "bench:plain-frame"  # the only key the benchmark writes itself; deleted at once
CONNECT_TIMEOUT = 30.0
DRAIN_TIMEOUT = 30.0  # how long to wait for the last acks after the last send
# Variables of a developer's shell that would point the children at someone else's services.
FOREIGN_VARS = ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_TLS", "PROCTORING_API_KEY"]

# Run by `manage.py shell -c`: one process makes every attempt, through the same command an
# operator runs per user, and prints all of their `proctoring_token` JSON lines as one list.
TOKENS_SCRIPT = """
import io, json
from django.core.management import call_command
tokens = []
for i in range({count}):
    out = io.StringIO()
    call_command("proctoring_token", f"user{{i}}", "bench-exam", "--create", "--consented", stdout=out)
    tokens.append(json.loads(out.getvalue()))
print(json.dumps(tokens))
"""


@dataclass
class ClientResult:
    """What one camera client saw: latencies of acked frames (s) and everything else by code."""

    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    job_ids: list[str] = field(default_factory=list)
    max_lag: float = 0.0  # how late the client itself was against its send clock
    last_answer: float = 0.0


# --- The processes ------------------------------------------------------------------------------


def create_ws_paths(env: dict[str, str], count: int) -> list[str]:
    """Creates `count` users with one attempt each; returns their token-carrying WebSocket paths."""
    output = manage(env, "shell", "-c", TOKENS_SCRIPT.format(count=count))
    last_line = output.strip().splitlines()[-1]
    return [str(token["ws_path"]) for token in json.loads(last_line)]


PROJECT_APP = "proctoring_site.asgi:application"
BASELINE_APP = "bench.minimal_asgi:application"


def start_daphne(
    env: dict[str, str], port: int, log_path: Path, app: str, processes: int = 1
) -> subprocess.Popen[bytes]:
    """One daphne on `port`; or, with `processes` > 1, that many on the one port as
    `rungateway --processes` runs them (the minimal consumer through the same supervisor)."""
    if processes == 1:
        command = [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), app]
    elif app == PROJECT_APP:
        command = [
            sys.executable,
            "manage.py",
            "rungateway",
            "--port",
            str(port),
            "--processes",
            str(processes),
        ]
    else:
        command = [sys.executable, "-m", "bench.minimal_group", str(port), str(processes)]
    return start_process(command, env, log_path)


# --- The clients --------------------------------------------------------------------------------


async def _receive(
    ws: ClientConnection, sent_at: dict[int, float], result: ClientResult, expected: int, done: asyncio.Event
) -> str:
    """Matches answers to sends by seq until the socket closes; returns how it closed."""
    loop = asyncio.get_running_loop()
    try:
        async for message in ws:
            now = loop.time()
            answer = json.loads(message)
            if answer["type"] == "ack":
                result.latencies.append(now - sent_at[int(answer["seq"])])
                result.job_ids.append(str(answer["job_id"]))
            elif answer["type"] in ("throttle", "attempt", "message"):
                continue  # not a reply to a frame (the bench's queue cap is set out of reach)
            else:
                result.errors[str(answer.get("code"))] += 1
            result.last_answer = now
            if len(result.latencies) + result.errors.total() >= expected:
                done.set()
    except ConnectionClosed as closed:
        return f"closed_{closed.rcvd.code if closed.rcvd else 'without_close_frame'}"
    return "closed_normally"


async def _send(ws: ClientConnection, frame: bytes, times: list[float], sent_at: dict[int, float]) -> None:
    """Sends one frame per scheduled time without waiting for acks (open loop)."""
    loop = asyncio.get_running_loop()
    for seq, due in enumerate(times, start=1):
        await asyncio.sleep(max(0.0, due - loop.time()))
        sent_at[seq] = loop.time()
        await ws.send(frame)


async def _drain(receiver: asyncio.Task[str], done: asyncio.Event) -> str | None:
    """Waits for the last answers; returns why some never came (None if all did)."""
    waiter = asyncio.create_task(done.wait())
    await asyncio.wait({receiver, waiter}, timeout=DRAIN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if done.is_set():
        return None
    return receiver.result() if receiver.done() else "no_answer"


async def run_client(
    ws: ClientConnection, frame: bytes, times: list[float], result: ClientResult | None = None
) -> ClientResult:
    """Streams `frame` at `times` on one socket; waits up to DRAIN_TIMEOUT for the last answers.
    Pass `result` to watch the counts grow while it runs (`bench.soak` samples them)."""
    result = ClientResult() if result is None else result
    sent_at: dict[int, float] = {}
    done = asyncio.Event()
    receiver = asyncio.create_task(_receive(ws, sent_at, result, len(times), done))
    try:
        try:
            await _send(ws, frame, times, sent_at)
        except ConnectionClosed:
            pass  # the frames it could not send are counted below, under the receiver's reason
        missing_because = await _drain(receiver, done)
    finally:
        receiver.cancel()
        await ws.close()
    result.sent = len(sent_at)
    missing = len(times) - len(result.latencies) - result.errors.total()
    if missing > 0:
        result.errors[missing_because or "no_answer"] += missing
    lags = [sent_at[seq] - due for seq, due in enumerate(times, start=1) if seq in sent_at]
    result.max_lag = max(lags, default=0.0)
    return result


async def _connect(url: str) -> ClientConnection | None:
    try:
        return await connect(
            url, max_size=None, compression=None, open_timeout=CONNECT_TIMEOUT, ping_interval=None
        )
    except (OSError, InvalidHandshake, TimeoutError):
        return None


async def _refused(times: list[float]) -> ClientResult:
    return ClientResult(errors=Counter({"connect_failed": len(times)}))


async def run_load(
    urls: list[str],
    frame: bytes,
    fps: float,
    seconds: float,
    live: list[ClientResult] | None = None,
    on_connected: Callable[[], None] | None = None,
) -> tuple[list[ClientResult], float]:
    """Connects every client, then starts all clocks together, staggered across one frame interval.

    Returns each client's result and the time from the first scheduled send to the end of the send
    window or the last answer, whichever is later. `live`, if given, receives each connected
    client's result as soon as it starts, so that another task can read the counts so far.
    `on_connected` is called once every client has connected, before the first frame.
    """
    sockets = await asyncio.gather(*(_connect(url) for url in urls))
    if on_connected is not None:
        on_connected()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    frames = max(1, round(fps * seconds))
    schedules = [[start + (index / len(urls) + k) / fps for k in range(frames)] for index in range(len(urls))]
    refused = Counter({"connect_failed": frames})
    watched = [ClientResult() if ws is not None else ClientResult(errors=refused.copy()) for ws in sockets]
    if live is not None:
        live.extend(watched)
    results = await asyncio.gather(
        *(
            run_client(ws, frame, times, result) if ws is not None else _refused(times)
            for ws, times, result in zip(sockets, schedules, watched, strict=True)
        )
    )
    # The run lasts at least the send window, so that keeping up reads as the offered rate.
    last = max([start + frames / fps, *(result.last_answer for result in results)])
    return list(results), last - start


# --- Redis memory -------------------------------------------------------------------------------


def used_memory(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("memory")
    return int(info["used_memory"])


def memory_usage(client: redis.Redis, key: str) -> int:
    """MEMORY USAGE with every element counted (the default sampling over-reports a large hash)."""
    return int(client.memory_usage(key, samples=0) or 0)


def plain_set_usage(client: redis.Redis, frame: bytes) -> int:
    """What Redis needs to hold the frame bytes alone, as one string key."""
    client.set(PLAIN_KEY, frame)
    try:
        return memory_usage(client, PLAIN_KEY)
    finally:
        client.delete(PLAIN_KEY)


# --- Figures ------------------------------------------------------------------------------------


def read_loop_lag(client: redis.Redis) -> dict[str, float | None]:
    """The gateways' loop lag during the load (their probe's histogram, every process together):
    p50, p99 and the worst, in ms."""
    raw: dict[bytes, bytes] = client.hgetall(keys.histogram(LOOP_LAG))  # type: ignore[assignment]
    counts = {field.decode(): int(value) for field, value in raw.items()}
    scored = client.zrange(keys.histogram_range(LOOP_LAG), 0, -1, withscores=True)
    ranges = freshness.read_ranges(dict(scored))  # type: ignore[arg-type]
    quantiles = freshness.percentiles(counts, LOOP_LAG_BUCKETS_MS, ranges)
    worst = max((high for _, high in ranges.values()), default=None)
    return {
        "p50": None if quantiles["p50"] is None else round(quantiles["p50"] * 1000, 2),
        "p99": None if quantiles["p99"] is None else round(quantiles["p99"] * 1000, 2),
        "max": None if worst is None else round(worst, 2),
        "samples": counts.get("count", 0),
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(results: list[ClientResult], elapsed: float, offered: int) -> dict[str, Any]:
    latencies = sorted(latency for result in results for latency in result.latencies)
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result.errors)
    return {
        "offered": offered,
        "sent": sum(result.sent for result in results),
        "acked": len(latencies),
        "errors": dict(errors),
        "acked_per_second": round(len(latencies) / elapsed, 1),
        "elapsed_seconds": round(elapsed, 2),
        "ack_ms": {
            name: round(percentile(latencies, pct) * 1000, 2)
            for name, pct in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
        },
        "client_max_lag_ms": round(max((r.max_lag for r in results), default=0) * 1000, 2),
    }


def print_report(figures: dict[str, Any]) -> None:
    ack, mem, lag = figures["ack_ms"], figures["redis"], figures["loop_lag_ms"]
    lines = [
        f"clients {figures['clients']} x {figures['fps']} fps x {figures['seconds']} s; "
        f"frame {figures['frame_bytes']:,} bytes (640x480 JPEG); settings {figures['settings']}",
        f"offered frames      {figures['offered']:,} (sent {figures['sent']:,})",
        f"acked frames        {figures['acked']:,}",
        f"errors by code      {figures['errors'] or 'none'}",
        f"acked frames/s      {figures['acked_per_second']:,} over {figures['elapsed_seconds']} s",
        f"ack latency ms      p50 {ack['p50']}  p95 {ack['p95']}  p99 {ack['p99']}  max {ack['max']}",
        f"client clock lag    max {figures['client_max_lag_ms']} ms (the load generator's own lateness)",
        f"redis used_memory   +{mem['used_memory_delta']:,} bytes = "
        f"{mem['bytes_per_queued_frame']:,} bytes per queued frame",
        f"MEMORY USAGE job    {mem['job_memory_usage']:,} bytes (one rq:job hash, SAMPLES 0)",
        f"MEMORY USAGE SET    {mem['plain_set_memory_usage']:,} bytes (the frame alone, SAMPLES 0)",
        f"per frame vs SET    {mem['ratio_to_plain_set']}x, "
        f"{mem['bytes_per_queued_frame'] - mem['plain_set_memory_usage']:+,} bytes",
        f"daphne RSS          {figures['daphne_rss_kb'] / 1024:.1f} MiB "
        f"(peak {figures['daphne_peak_rss_kb'] / 1024:.1f} MiB; {figures['gateway_processes']} process(es))",
        f"gateway CPU         {figures['cpu_us_per_frame']} µs per acked frame (every gateway process)",
        f"loop lag ms         p50 {lag['p50']}  p99 {lag['p99']}  max {lag['max']} "
        f"({lag['samples']} probes of 50 ms sleeps)",
    ]
    if "end_to_end" in figures:
        e2e = figures["end_to_end"]
        age = e2e["received_to_api_ms"]
        lines.append(
            f"received -> API    {e2e['api_requests']:,} calls; p50 {age.get('p50')}  p95 {age.get('p95')}  "
            f"p99 {age.get('p99')}  max {age.get('max')} ms (while the queue is not backlogged; "
            "with workers, memory figures include frames already delivered)"
        )
    for name, usage in figures.get("processes", {}).items():
        lines.append(
            f"{name:<19} {usage['cpu_percent']:5.1f} % of a core, {usage['cpu_us_per_frame']:,} µs CPU "
            f"per acked frame, RSS {usage['rss_mib']} MiB"
        )
    print("\n".join(lines))


# --- The box's processes ------------------------------------------------------------------------

LOAD_GENERATOR = "load generator"


def _box_cpu_seconds(watched: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each watched process tree, and of this process (the clients)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **{name: tree_cpu_seconds(pids) for name, pids in watched.items()},
        LOAD_GENERATOR: own.ru_utime + own.ru_stime,
    }


def _box_figures(watched: dict[str, list[int]], before: dict[str, float], acked: int) -> dict[str, Any]:
    """Each process's share of a core, CPU per acked frame and RSS, from `before` (the clients
    connected) to now (with workers: after they caught up with what was acked)."""
    wall = time.monotonic() - before["wall"]
    after = _box_cpu_seconds(watched)
    figures: dict[str, Any] = {}
    for name, seconds in after.items():
        used = seconds - before[name]
        if name == LOAD_GENERATOR:
            rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak: this process's own
        else:
            rss_kb = tree_memory_kb(watched[name])["rss"]
        figures[name] = {
            "cpu_percent": round(100 * used / wall, 1) if wall > 0 else None,
            "cpu_us_per_frame": round(used * 1e6 / acked, 1) if acked else None,
            "rss_mib": round(rss_kb / 1024, 1),
        }
    return figures


# --- The run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50, help="camera clients (default 50)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames per second per client (default 2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each client sends (default 20)")
    parser.add_argument("--frame-kb", type=float, default=50.0, help="target JPEG size in kB (default 50)")
    parser.add_argument(
        "--settings",
        default="proctoring_site.settings",
        help="Django settings module for the servers (default proctoring_site.settings)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also run W `rqworker proctoring` processes and a fake API; time frame received -> API called",
    )
    parser.add_argument(
        "--api-latency-ms", type=float, default=200.0, help="the fake API's latency (default 200)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="gateway processes on the one port, as `rungateway --processes` (default 1); "
        "the minimal consumer gets as many",
    )
    parser.add_argument(
        "--keep-log",
        metavar="PATH",
        help="keep each gateway's log as PATH.project.log / PATH.minimal.log (with "
        "PROCTORING_LOOP_STALL_MS=20 in the environment, every stall over 20 ms and what held the loop)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="first measure the minimal consumer (LPUSH + ack) the same way",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.fps <= 0 or args.seconds <= 0 or args.frame_kb <= 0 or args.processes < 1:
        parser.error("--clients, --fps, --seconds, --frame-kb and --processes must be positive")
    return args


@contextmanager
def private_stack(
    workdir: Path,
    max_pending: int,
    settings: str,
    app: str,
    api_url: str = UNUSED_API_URL,
    processes: int = 1,
) -> Iterator[tuple[str, subprocess.Popen[bytes], dict[str, str]]]:
    """Redis, a migrated SQLite database and daphne; yields (ws base URL, daphne, env); stops both."""
    with migrated_stack(workdir, max_pending=max_pending, settings=settings, api_url=api_url) as env:
        port = free_port()
        daphne = start_daphne(env, port, workdir / "daphne.log", app, processes)
        try:
            wait_for_port(daphne, port, workdir / "daphne.log")
            progress(f"daphne (pid {daphne.pid}) on {HOST}:{port}")
            yield f"ws://{HOST}:{port}", daphne, env
        finally:
            stop_process(daphne)


def measure(args: argparse.Namespace, workdir: Path, frame: bytes, app: str = PROJECT_APP) -> dict[str, Any]:
    with ExitStack() as stack:
        api = None
        if args.workers and app == PROJECT_APP:
            api = stack.enter_context(FakeApiProcess(workdir, args.api_latency_ms))
        return _measure(args, workdir, frame, app, api, stack)


def _measure(
    args: argparse.Namespace,
    workdir: Path,
    frame: bytes,
    app: str,
    api: FakeApiProcess | None,
    stack: ExitStack,
) -> dict[str, Any]:
    offered = args.clients * max(1, round(args.fps * args.seconds))
    api_url = api.url if api else UNUSED_API_URL
    end_to_end: dict[str, Any] | None = None
    with private_stack(workdir, max(100_000, offered), args.settings, app, api_url, args.processes) as (
        base_url,
        daphne,
        env,
    ):
        client = redis.Redis.from_url(env["REDIS_URL"])
        # Every process of the box, for its CPU and RSS under the load (a school sizing a machine).
        watched: dict[str, list[int]] = {
            "gateway": [daphne.pid],
            "redis": [int(client.info("server")["process_id"])],
        }
        if api is not None:
            for index in range(args.workers):
                log_path = workdir / f"worker-{index}.log"
                worker = start_process([sys.executable, "manage.py", "rqworker", "proctoring"], env, log_path)
                stack.callback(stop_process, worker)
                watched[f"worker {index + 1}"] = [worker.pid]
            watched["fake API"] = [api.process.pid]
            progress(f"{args.workers} worker(s) forwarding to the fake API ({args.api_latency_ms:g} ms)")
        progress(f"creating {args.clients} attempts")
        urls = [base_url + path for path in create_ws_paths(env, args.clients)]
        before = used_memory(client)
        box_before: dict[str, float] = {}

        def connected() -> None:
            # The loop lag and CPU of the load alone, not of the start-up and connections.
            client.delete(keys.histogram(LOOP_LAG), keys.histogram_range(LOOP_LAG))
            box_before.update(_box_cpu_seconds(watched), wall=time.monotonic())

        progress(f"streaming {offered:,} frames of {len(frame):,} bytes")
        results, elapsed = asyncio.run(
            asyncio.wait_for(
                run_load(urls, frame, args.fps, args.seconds, on_connected=connected),
                args.seconds + CONNECT_TIMEOUT + DRAIN_TIMEOUT + 30,
            )
        )
        cpu_seconds = tree_cpu_seconds([daphne.pid]) - box_before["gateway"]
        acked = sum(len(result.latencies) for result in results)
        time.sleep(1.5)  # the gateways write their figures once a second: the last second's too
        loop_lag = read_loop_lag(client)
        if api is not None:
            deadline = time.monotonic() + 60
            # The workers catch up with what was acked (bounded). Distinct frames, not calls: a
            # call that timed out is made again, and counting it would stop the wait early.
            while api.stats()["distinct_keys"] < acked and time.monotonic() < deadline:
                time.sleep(0.2)
            end_to_end = api.stats()
        box = _box_figures(watched, box_before, acked)
        delta = used_memory(client) - before
        figures = summarize(results, elapsed, offered)
        job_ids = [job_id for result in results for job_id in result.job_ids]
        job_usage = memory_usage(client, Job.key_for(job_ids[0])) if job_ids and job_ids[0] else 0
        plain = plain_set_usage(client, frame)
        per_frame = delta // figures["acked"] if figures["acked"] else 0
        figures["redis"] = {
            "used_memory_delta": delta,
            "bytes_per_queued_frame": per_frame,
            "job_memory_usage": job_usage,
            "plain_set_memory_usage": plain,
            "ratio_to_plain_set": round(per_frame / plain, 3) if plain else None,
        }
        rss = memory_kb(daphne.pid)
        if args.processes > 1:
            tree = tree_memory_kb([daphne.pid])
            rss = {"VmRSS": tree["rss"], "VmHWM": tree["rss"]}
        figures["gateway_processes"] = args.processes
        figures["cpu_us_per_frame"] = (
            round(cpu_seconds * 1e6 / figures["acked"], 1) if figures["acked"] else None
        )
        figures["loop_lag_ms"] = loop_lag
        figures["processes"] = box
        client.close()
        if args.keep_log:
            kept_as = Path(args.keep_log).with_suffix(
                f".{'project' if app == PROJECT_APP else 'minimal'}.log"
            )
            kept_as.write_bytes((workdir / "daphne.log").read_bytes())
            progress(f"the gateway's log (its loop stalls with what held the loop) is kept at {kept_as}")
        if figures["errors"]:
            kept = Path(tempfile.gettempdir()) / f"gateway-bench-daphne-{daphne.pid}.log"
            kept.write_bytes((workdir / "daphne.log").read_bytes())
            progress(f"errors: daphne's log is kept at {kept}")
    figures.update(daphne_rss_kb=rss.get("VmRSS", 0), daphne_peak_rss_kb=rss.get("VmHWM", 0))
    if end_to_end is not None:
        figures["end_to_end"] = {
            "api_requests": end_to_end["requests"],
            "distinct_frames": end_to_end["distinct_keys"],
            "duplicates": end_to_end["duplicate_keys"],
            "delivered_share": round(end_to_end["distinct_keys"] / figures["acked"], 4)
            if figures["acked"]
            else None,
            "received_to_api_ms": end_to_end["frame_age_ms"],
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()  # a kill stops our children too
    frame = make_frame(args.frame_kb)
    progress(f"frame: 640x480 JPEG, {len(frame):,} bytes")
    baseline: dict[str, Any] | None = None
    if args.baseline:
        progress("baseline: the minimal consumer (LPUSH and ack) in the same run")
        with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
            baseline = measure(args, Path(tmp), frame, BASELINE_APP)
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        figures = measure(args, Path(tmp), frame)
    if baseline is not None:
        figures["baseline"] = baseline
    figures = {
        "clients": args.clients,
        "fps": args.fps,
        "seconds": args.seconds,
        "frame_bytes": len(frame),
        "settings": args.settings,
        **figures,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        if baseline is not None:
            print("--- baseline: minimal consumer (async LPUSH + ack), same machine, same run ---")
            print_report({**figures, **baseline})
            print("--- the project's gateway ---")
        print_report(figures)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
