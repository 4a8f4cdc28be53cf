"""The soak benchmark runs end to end on a tiny load: it prints its curve and summary, and every
acked frame is delivered once the queue has drained. Speed and flatness are not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_soak_benchmark_samples_summarizes_and_delivers_every_acked_frame():
    command = [sys.executable, "-m", "bench.soak", "--clients", "4", "--fps", "2", "--seconds", "6"]
    command += ["--sample", "2", "--workers", "1", "--concurrency", "4", "--latency-ms", "20", "--json"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=40, stdin=subprocess.DEVNULL
    )
    assert done.returncode in (0, 1), done.stderr  # 1 is a FAIL verdict: it still ran
    report = json.loads(done.stdout)
    samples, summary = report["samples"], report["summary"]
    assert len(samples) >= 3
    assert all(sample["gateway_rss_kb"] > 0 and len(sample["workers_rss_kb"]) == 1 for sample in samples)
    assert "gateway MiB" in done.stderr and "verdict:" in done.stderr, "the curve and summary are printed"
    delivery = summary["delivery"]
    assert delivery["acked"] == 4 * 12
    assert delivery["api_distinct_keys"] == delivery["counted_delivered"] == delivery["acked"]
    assert delivery["backlog_left"] == 0
    assert summary["verdict"] in ("PASS", "FAIL")
