"""The gateway benchmark runs end to end on a tiny load and reports figures that make sense."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def bench_json(*args: str, timeout: float) -> Any:
    """Runs `python ARGS --json` from the project's root; its one JSON object, or fails."""
    done = subprocess.run(
        [sys.executable, *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_gateway_benchmark_acks_every_frame_and_measures_queue_memory():
    figures = bench_json(
        "bench/gateway_load.py", "--clients", "3", "--fps", "2", "--seconds", "2", timeout=100
    )
    assert figures["offered"] == 12
    assert figures["acked"] == figures["offered"], figures["errors"]
    assert figures["errors"] == {}
    assert figures["redis"]["bytes_per_queued_frame"] > 0
    assert figures["cpu_us_per_frame"] > 0
    assert figures["loop_lag_ms"]["samples"] > 0 and figures["loop_lag_ms"]["p99"] is not None


def test_gateway_benchmark_runs_both_gateways_with_several_processes():
    command = ["bench/gateway_load.py", "--clients", "4", "--fps", "2", "--seconds", "2"]
    figures = bench_json(*command, "--processes", "2", "--baseline", timeout=180)
    for run in (figures, figures["baseline"]):
        assert run["gateway_processes"] == 2
        assert run["acked"] == run["offered"] == 16, run["errors"]
        assert run["cpu_us_per_frame"] > 0
        # Both processes' probes wrote to the same histogram: about 20 a second each.
        assert run["loop_lag_ms"]["samples"] >= 2 * 20 * 2 * 0.5


def test_gateway_benchmark_with_workers_measures_received_to_api_time():
    command = ["bench/gateway_load.py", "--clients", "2", "--fps", "2", "--seconds", "2"]
    figures = bench_json(*command, "--workers", "1", "--api-latency-ms", "20", timeout=120)
    assert figures["acked"] == figures["offered"] == 8
    assert figures["end_to_end"]["api_requests"] == 8, "every acked frame reached the API"
    assert figures["end_to_end"]["received_to_api_ms"]["count"] == 8
    assert figures["end_to_end"]["delivered_share"] == 1.0 and figures["end_to_end"]["duplicates"] == 0
    # Every process of the box, as a school would size it: each one's CPU and RSS.
    box = figures["processes"]
    assert set(box) == {"gateway", "redis", "worker 1", "fake API", "load generator"}
    assert all(usage["cpu_percent"] >= 0 and usage["rss_mib"] > 0 for usage in box.values()), box
    assert box["gateway"]["cpu_us_per_frame"] > 0 and box["worker 1"]["cpu_us_per_frame"] > 0, box


def test_redis_memory_benchmark_reports_bytes_per_queued_frame():
    figures = bench_json("-m", "bench.redis_memory", "--clients", "2", timeout=60)
    assert figures["frames"] == 20
    assert figures["bytes_per_queued_frame"] > figures["frame_bytes"] > 0


def test_load_generator_answers_to_its_documented_name_and_flags():
    command = ["-m", "bench.load", "--clients", "1", "--fps", "2", "--frame-kb", "20", "--duration", "1"]
    assert bench_json(*command, timeout=60)["acked"] == 2


def test_admin_pages_benchmark_times_every_page():
    command = ["-m", "bench.admin_pages", *"--queued 30 --failed 6 --clients 3 --repeat 1".split()]
    figures = bench_json(*command, timeout=120)
    assert (figures["queued"], figures["failed"], figures["clients"]) == (30, 6, 3)
    assert len(figures["pages"]) == 8
    assert all(timing["median_ms"] > 0 for timing in figures["pages"].values())
