"""The worker benchmark runs end to end on a tiny load and delivers every frame exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_worker_benchmark_delivers_every_frame_exactly_once():
    command = [sys.executable, "-m", "bench.worker_throughput", "--frames", "20", "--processes", "1"]
    command += ["--concurrency", "4", "--latency-ms", "20", "--json"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=110, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [run] = report["runs"]
    delivery = run["delivery"]
    assert delivery["frames"] == 20
    assert delivery["distinct_keys"] == 20, "every frame reached the API"
    assert delivery["api_requests"] == 20, "no frame was sent twice"
    assert delivery["duplicate_keys"] == 0
    assert delivery["stored_results"] == 20
    assert delivery["failed_jobs"] == 0
    assert delivery["queued_left"] == delivery["started_left"] == delivery["pending_slots_left"] == 0
    assert delivery["exactly_once"] is True
