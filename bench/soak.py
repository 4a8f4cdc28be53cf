"""Soak: N camera clients stream at F frames/s for a long time through the whole pipeline, and
the memory of every part is sampled, to show that nothing grows.

    .venv/bin/python -m bench.soak --clients 200 --fps 2 --seconds 600 --sample 10 \\
        [--workers 2 --concurrency 64] [--latency-ms 50] [--json]

Starts, all on 127.0.0.1 and all stopped by PID at the end (also on Ctrl-C or SIGTERM): a private
redis-server with AOF on (as in production), a migrated SQLite database with one attempt per
client, one daphne gateway (with `make run`'s message size limits), W `manage.py rqworker
proctoring` processes (each with its scheduler, as in production) and the fake API with a fixed
latency. Every `--sample` seconds it prints one line of the curve: gateway and workers' RSS,
Redis `used_memory` and key count, the queue, and frames acked / delivered / errors so far. Then
it waits for the queue to drain and prints a summary and a PASS/FAIL against the soak criteria:
RSS flat within 10 % from the end of a warm-up to the end, Redis keys grown no further than the
backlog, no errors, every acked frame delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import pipeline
from bench.fake_api_process import FakeApiProcess
from bench.gateway_load import ClientResult, create_ws_paths, run_load
from bench.images import make_frame
from bench.stack import (
    HOST,
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
from proctoring_site.embedded_redis import free_port

FLAT_PERCENT = 10.0  # RSS may grow this much from the end of the warm-up to the end
WARMUP_SECONDS = 60.0  # or WARMUP_SHARE of a shorter run
WARMUP_SHARE = 0.1
CLIENT_DRAIN_SECONDS = 30.0  # `run_client` waits this long for the last acks
# Keys that exist only while frames wait or run: each frame's job hash, envelope and execution
# records; the queue, the started registry, a client's pending set and waiting list, the fair
# order's rings of waiting clients, a worker's executions. Not the `exams` queue's jobs (each
# attempt's deadline, the minute's sweep): one per attempt, as steady as the attempts.
BACKLOG_KEY = re.compile(
    r"^(rq:job:(?!exams-)|rq:execution:|rq:executions:|rq:results:|proctoring:frame:|rq:queue:"
    r"|rq:wip:|rq:scheduled:(?!exams$)|proctoring:client:[^:]+:(pending|waiting)$|proctoring:ring:"
    r"|rq:worker:[^:]+:executions$)"
)
# Buckets that expire by themselves, one more per minute, bounded (named as the census names
# them, numbers read <n>): the minute's counts (`counters.MINUTE_TTL`, an hour) and the
# gateways' loop-lag histogram of the minute and its ranges (`metrics.loop_lag_minute`, kept a
# few minutes); and RQ's maintenance lock, held for minutes after each clean-up.
BOUNDED_KEY = re.compile(r"^(proctoring:stats:(minute:|histogram:loop_lag:<n>)|rq:clean_groups$)")
_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Sample:
    """One point of the curve. Memory in kB; counts since the start."""

    elapsed: float
    gateway_rss_kb: int
    workers_rss_kb: list[int]  # per process, with its scheduler's fork
    workers_pss_kb: int  # all of them, each shared page counted once
    redis_used_memory: int
    redis_keys: int
    backlog_keys: int  # see BACKLOG_KEY
    steady_keys: int  # neither backlog keys nor minute buckets: these must not grow
    queued: int
    running: int
    retrying: int
    acked: int
    delivered: int  # the project's counter of completed frames
    ws_errors: int  # error answers, closed sockets, no answer, refused connections
    job_failures: int  # frames whose job failed for good
    # Share of one core used since the previous sample: the gateway, all workers, this process
    # (the load clients); and the machine's 1-minute load average (other work on the same cores).
    cpu_percent: dict[str, float] = field(default_factory=dict)
    load_average: float = 0.0
    sending: bool = True  # taken while every client was still sending (else: during the close)

    @property
    def backlog(self) -> int:
        return self.queued + self.running + self.retrying


@dataclass
class Stack:
    """What the probe looks at."""

    redis_url: str
    gateway_pid: int
    worker_pids: list[int]
    live: list[ClientResult] = field(default_factory=list)


# --- Measuring ----------------------------------------------------------------------------------


class Probe:
    """Takes samples: a few /proc reads and two Redis pipelines, so that it costs next to nothing."""

    def __init__(self, stack: Stack) -> None:
        from proctoring.store import keys

        self.stack = stack
        self.client = redis.Redis.from_url(stack.redis_url)
        self.totals_key = keys.totals()
        self.started = time.monotonic()
        self._cpu = (self.started, self._cpu_seconds())

    def _cpu_seconds(self) -> dict[str, float]:
        return {
            "gateway": tree_cpu_seconds([self.stack.gateway_pid]),
            "workers": tree_cpu_seconds(self.stack.worker_pids),
            "clients": sum(os.times()[:2]),
        }

    def _cpu_percent(self) -> dict[str, float]:
        (then, before), now, after = self._cpu, time.monotonic(), self._cpu_seconds()
        self._cpu = (now, after)
        return {name: round((after[name] - before[name]) * 100 / (now - then), 1) for name in after}

    def sample(self) -> tuple[Sample, dict[str, int]]:
        """A point of the curve, and the keys by pattern (one SCAN: a few ms at ~2,000 keys)."""
        from proctoring.ops.stats import queue_figures

        workers = [tree_memory_kb([pid]) for pid in self.stack.worker_pids]
        with self.client.pipeline(transaction=False) as pipe:
            pipe.info("memory")
            pipe.dbsize()
            pipe.hmget(self.totals_key, ["completed", "failed"])
            memory, dbsize, (completed, failed) = pipe.execute()
        queue = queue_figures()
        census = self.key_census()
        kinds = _split(census)
        live = self.stack.live
        sample = Sample(
            elapsed=round(time.monotonic() - self.started, 1),
            gateway_rss_kb=memory_kb(self.stack.gateway_pid).get("VmRSS", 0),
            workers_rss_kb=[worker["rss"] for worker in workers],
            workers_pss_kb=sum(worker["pss"] for worker in workers),
            redis_used_memory=int(memory["used_memory"]),
            redis_keys=int(dbsize),
            backlog_keys=kinds["backlog"],
            steady_keys=kinds["steady"],
            queued=queue["queued"],
            running=queue["running"],
            retrying=queue["retrying"],
            acked=sum(len(result.latencies) for result in live),
            delivered=int(completed or 0),
            ws_errors=sum(result.errors.total() for result in live),
            job_failures=int(failed or 0),
            cpu_percent=self._cpu_percent(),
            load_average=os.getloadavg()[0],
        )
        return sample, census

    def key_census(self) -> dict[str, int]:
        """Keys by pattern (ids and numbers replaced)."""
        census: Counter[str] = Counter()
        for key in self.client.scan_iter(count=1000):
            census[re.sub(r"\d+", "<n>", _ID.sub("<id>", key.decode()))] += 1
        return dict(sorted(census.items()))


def _split(census: dict[str, int]) -> dict[str, int]:
    backlog = sum(count for key, count in census.items() if BACKLOG_KEY.match(key))
    bounded = sum(count for key, count in census.items() if BOUNDED_KEY.match(key))
    return {"backlog": backlog, "bounded": bounded, "steady": sum(census.values()) - backlog - bounded}


# --- The curve ----------------------------------------------------------------------------------

HEADER = (
    f"{'t s':>7} {'gateway MiB':>11} {'workers MiB (each)':>24} {'PSS MiB':>8} {'redis MiB':>9} "
    f"{'keys':>6} {'steady':>6} {'queued':>6} {'running':>7} {'acked':>9} {'delivered':>9} {'errors':>6} "
    f"{'CPU % gw/wk/clients':>19} {'load':>5}"
)


def _mib(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def curve_line(sample: Sample) -> str:
    """One row; a `*` after the time marks a sample taken while the clients were closing."""
    each = " ".join(_mib(kb) for kb in sample.workers_rss_kb)
    workers = f"{_mib(sum(sample.workers_rss_kb))} ({each})"
    errors = sample.ws_errors + sample.job_failures
    when = f"{sample.elapsed:.0f}" + ("" if sample.sending else "*")
    return (
        f"{when:>7} {_mib(sample.gateway_rss_kb):>11} {workers:>24} "
        f"{_mib(sample.workers_pss_kb):>8} {sample.redis_used_memory / 2**20:>9.1f} "
        f"{sample.redis_keys:>6} {sample.steady_keys:>6} {sample.queued:>6} {sample.running:>7} "
        f"{sample.acked:>9,} {sample.delivered:>9,} {errors:>6} "
        f"{'/'.join(f'{cpu:.0f}' for cpu in sample.cpu_percent.values()):>19} {sample.load_average:>5.1f}"
    )


@dataclass
class Run:
    """The curve and what came after it."""

    samples: list[Sample]  # `sending` ones while every client sent; then until all had closed
    censuses: dict[str, dict[str, int]]  # keys by pattern at "warmup", "last" (sending), "drained"
    results: list[ClientResult]
    drained: Sample | None = None
    drain_seconds: float = 0.0


def warmup_seconds(seconds: float) -> float:
    return min(WARMUP_SECONDS, WARMUP_SHARE * seconds)


async def _connected_at(live: list[ClientResult], probe: Probe) -> float:
    """When `run_load` had connected its clients (on the probe's clock)."""
    while not live:
        await asyncio.sleep(0.05)
    return time.monotonic() - probe.started


async def soak(urls: list[str], frame: bytes, args: argparse.Namespace, probe: Probe, emit: Any) -> Run:
    """Runs the clients and takes a sample every `args.sample` seconds until they have all closed."""
    run = Run([], {}, [])
    live = probe.stack.live
    load = asyncio.create_task(run_load(urls, frame, args.fps, args.seconds, live))
    connected = asyncio.create_task(_connected_at(live, probe))
    emit(HEADER)
    due = time.monotonic()
    while True:
        sample, census = await asyncio.to_thread(probe.sample)
        if connected.done():  # the clocks start half a second later; the last frames go 1/fps early
            sample.sending = sample.elapsed < connected.result() + 0.5 + args.seconds - 1 / args.fps
        run.samples.append(sample)
        emit(curve_line(sample))
        if sample.sending:
            if "warmup" not in run.censuses and sample.elapsed >= warmup_seconds(args.seconds):
                run.censuses["warmup"] = census
            run.censuses["last"] = census
        if load.done():
            break
        due += args.sample
        await asyncio.wait({load}, timeout=max(0.0, due - time.monotonic()))
    connected.cancel()
    run.results, _ = load.result()
    return run


def drain(probe: Probe, run: Run, timeout: float) -> None:
    """Waits until nothing is queued, running or waiting to retry and every acked frame is
    counted delivered (or failed), or the timeout."""
    acked = sum(len(result.latencies) for result in run.results)
    started = time.monotonic()
    while True:
        sample, census = probe.sample()
        settled = sample.backlog == 0 and sample.delivered + sample.job_failures >= acked
        if settled or time.monotonic() - started > timeout:
            run.drained, run.drain_seconds = sample, time.monotonic() - started
            run.censuses["drained"] = census
            return
        time.sleep(0.5)


# --- The summary --------------------------------------------------------------------------------


def _growth(before: int, after: int) -> float:
    return round((after - before) * 100 / before, 1) if before else 0.0


def _rss(first: Sample, last: Sample) -> dict[str, list[int]]:
    pairs = {"gateway": [first.gateway_rss_kb, last.gateway_rss_kb]}
    pairs["workers"] = [sum(first.workers_rss_kb), sum(last.workers_rss_kb)]
    for index, pair in enumerate(zip(first.workers_rss_kb, last.workers_rss_kb, strict=True)):
        pairs[f"worker {index}"] = list(pair)
    return pairs


def summarize(run: Run, api: dict[str, Any], warmup: float) -> dict[str, Any]:
    """The figures the soak is judged by, and the verdict: from the first sample after the warm-up
    to the last one taken while every client was sending, then after the drain."""
    sending = [sample for sample in run.samples if sample.sending]
    first = next((s for s in sending if s.elapsed >= warmup), sending[-1])
    last, drained = sending[-1], run.drained
    assert drained is not None
    errors: Counter[str] = Counter()
    for result in run.results:
        errors.update(result.errors)
    acked = sum(len(result.latencies) for result in run.results)
    rss = _rss(first, last)
    growth = {name: _growth(*pair) for name, pair in rss.items()}
    checks = {
        "rss_flat": all(percent <= FLAT_PERCENT for percent in growth.values()),
        # Only backlog keys may come and go; none may be left once the queue has drained (a
        # failed job keeps its hash and envelope).
        "keys_within_backlog": last.steady_keys <= first.steady_keys
        and drained.steady_keys <= first.steady_keys
        and drained.backlog_keys <= 2 * drained.job_failures,
        "no_errors": not errors and drained.job_failures == 0,
        "every_acked_frame_delivered": api["distinct_keys"] == acked == drained.delivered
        and api["duplicate_keys"] == 0
        and drained.backlog == 0,
    }
    return {
        "warmup_sample_s": first.elapsed,
        "last_sample_s": last.elapsed,
        "rss_kb": rss,
        "rss_growth_percent": growth,
        "peak_rss_kb": {
            "gateway": max(s.gateway_rss_kb for s in sending),
            "workers": max(sum(s.workers_rss_kb) for s in sending),
        },
        "redis_used_memory": [first.redis_used_memory, last.redis_used_memory],
        "keys": {
            name: [getattr(first, name), getattr(last, name), getattr(drained, name)]
            for name in ("redis_keys", "backlog_keys", "steady_keys", "backlog")
        },
        "key_census": run.censuses,
        "errors": dict(errors),
        "delivery": {
            "sent": sum(result.sent for result in run.results),
            "client_max_lag_ms": round(max((r.max_lag for r in run.results), default=0) * 1000, 1),
            "acked": acked,
            "counted_delivered": drained.delivered,
            "api_answered_ok": api["answered_ok"],
            "api_distinct_keys": api["distinct_keys"],
            "api_duplicates": api["duplicate_keys"],
            "job_failures": drained.job_failures,
            "backlog_left": drained.backlog,
            "drain_seconds": round(run.drain_seconds, 1),
        },
        "checks": checks,
        "verdict": "PASS" if all(checks.values()) else "FAIL",
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    rss, growth, keys = summary["rss_kb"], summary["rss_growth_percent"], summary["keys"]
    delivery, checks, used = summary["delivery"], summary["checks"], summary["redis_used_memory"]
    lines = [
        f"summary: t={summary['warmup_sample_s']:g} s (end of warm-up) -> t={summary['last_sample_s']:g} s "
        "(last sample while sending) -> after the drain"
    ]
    for name, (before, after) in rss.items():
        lines.append(f"  RSS {name:<9}  {_mib(before):>7} -> {_mib(after):>7} MiB  {growth[name]:+.1f} %")
    lines += [
        f"  redis used_memory {used[0] / 2**20:.1f} -> {used[1] / 2**20:.1f} MiB",
        "  redis keys     {} -> {} -> {}; of which backlog keys {} -> {} -> {}, steady {} -> {} -> {}".format(
            *keys["redis_keys"], *keys["backlog_keys"], *keys["steady_keys"]
        ),
        "  backlog        {} -> {} -> {} frames queued, running or waiting to retry".format(*keys["backlog"]),
        f"  errors         {summary['errors'] or 'none'}; job failures {delivery['job_failures']}",
        f"  clients        sent {delivery['sent']:,}; at worst {delivery['client_max_lag_ms']:,} ms late "
        "against their clock",
        f"  delivery       acked {delivery['acked']:,}; counted delivered {delivery['counted_delivered']:,}; "
        f"API {delivery['api_distinct_keys']:,} distinct, {delivery['api_duplicates']} duplicates; "
        f"left {delivery['backlog_left']}; drained in {delivery['drain_seconds']} s",
        "  checks         " + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in checks.items()),
        f"verdict: {summary['verdict']}",
    ]
    return lines


# --- The processes ------------------------------------------------------------------------------


def start_gateway(env: dict[str, str], workdir: Path, stack: ExitStack) -> tuple[str, int]:
    """daphne as `make run` starts it; returns its ws:// base URL and PID."""
    from django.conf import settings

    port, log_path = free_port(), workdir / "daphne.log"
    size = str(settings.PROCTORING_MAX_MESSAGE_BYTES)
    command = [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port),
               "--websocket-max-message-size", size, "--websocket-max-frame-size", size,
               "proctoring_site.asgi:application"]  # fmt: skip
    daphne = start_process(command, env, log_path)
    stack.callback(stop_process, daphne)
    wait_for_port(daphne, port, log_path)
    progress(f"daphne (pid {daphne.pid}) on {HOST}:{port}")
    return f"ws://{HOST}:{port}", daphne.pid


def start_workers(
    env: dict[str, str], args: argparse.Namespace, workdir: Path, stack: ExitStack
) -> list[int]:
    """W `manage.py rqworker proctoring` (with the scheduler); waits until all have registered."""
    from rq.worker import Worker

    from proctoring.queue.policy import get_queue

    worker_env = {**env, "PROCTORING_WORKER_CONCURRENCY": str(args.concurrency)}
    pids = []
    for index in range(args.workers):
        command = [sys.executable, "manage.py", "rqworker", "proctoring"]
        worker = start_process(command, worker_env, workdir / f"worker-{index}.log")
        stack.callback(stop_process, worker)
        pids.append(worker.pid)
    deadline = time.monotonic() + 60
    while Worker.count(queue=get_queue()) < args.workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{args.workers} workers did not register within 60 s")
        time.sleep(0.2)
    progress(f"{args.workers} worker(s) x {args.concurrency} threads, pids {pids}")
    return pids


def keep_logs(workdir: Path) -> None:
    kept = Path(tempfile.gettempdir()) / f"soak-logs-{int(time.time())}"
    kept.mkdir()
    for log in workdir.glob("*.log"):
        kept.joinpath(log.name).write_bytes(log.read_bytes())
    progress(f"the servers' logs are kept in {kept}")


def measure(args: argparse.Namespace, workdir: Path, frame: bytes, emit: Any) -> dict[str, Any]:
    with ExitStack() as stack:
        api = stack.enter_context(FakeApiProcess(workdir, args.latency_ms))
        env = stack.enter_context(
            migrated_stack(
                workdir,
                max_pending=args.max_pending,
                settings=args.settings,
                api_url=api.url,
                appendonly=True,
            )
        )
        pipeline.setup_django(env)
        progress(f"creating {args.clients} attempts")
        paths = create_ws_paths(env, args.clients)
        base_url, gateway_pid = start_gateway(env, workdir, stack)
        worker_pids = start_workers(env, args, workdir, stack)
        probe = Probe(Stack(env["REDIS_URL"], gateway_pid, worker_pids))
        progress(
            f"{args.clients} clients x {args.fps:g} fps x {args.seconds:g} s, frame {len(frame):,} bytes"
        )
        run = asyncio.run(soak([base_url + path for path in paths], frame, args, probe, emit))
        progress("clients done; draining the queue")
        drain(probe, run, args.drain_timeout)
        summary = summarize(run, api.stats(), warmup_seconds(args.seconds))
        if summary["verdict"] != "PASS":
            keep_logs(workdir)
    return {"samples": [{**asdict(s), "backlog": s.backlog} for s in run.samples], "summary": summary}


# --- The run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200, help="camera clients (default 200)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames per second per client (default 2)")
    parser.add_argument(
        "--seconds", type=float, default=600.0, help="how long the clients send (default 600)"
    )
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="rqworker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=64, help="jobs at once per worker (default 64)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the fake API's latency (default 50)")
    parser.add_argument("--frame-kb", type=float, default=5.0, help="JPEG size in kB, 320x240 (default 5)")
    parser.add_argument(
        "--max-pending",
        type=int,
        default=10,
        help="PROCTORING_MAX_PENDING_PER_CLIENT (default 10, production's default)",
    )
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to drain (default 120)")
    parser.add_argument("--settings", default="proctoring_site.settings", help="Django settings module")
    parser.add_argument(
        "--json", action="store_true", help="the curve on stderr, then one JSON object on stdout"
    )
    args = parser.parse_args(argv)
    if min(args.clients, args.workers, args.concurrency, args.max_pending) < 1:
        parser.error(f"counts must be positive, got {vars(args)!r}")
    if min(args.fps, args.seconds, args.sample, args.frame_kb, args.drain_timeout) <= 0:
        parser.error(f"rates and times must be positive, got {vars(args)!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()  # a kill stops our children too
    out = sys.stderr if args.json else sys.stdout

    def emit(line: str) -> None:
        print(line, file=out, flush=True)

    frame = make_frame(args.frame_kb, 320, 240)
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as tmp:
        report = measure(args, Path(tmp), frame, emit)
    report = {"arguments": vars(args), "frame_bytes": len(frame), **report}
    for line in summary_lines(report["summary"]):
        emit(line)
    if args.json:
        print(json.dumps(report))
    return 0 if report["summary"]["verdict"] == "PASS" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
