"""The fairness bench runs end to end on a tiny load: every mode, every frame answered (or, with
latest-frame-wins, replaced)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_fairness_bench_runs_every_mode_and_accounts_for_every_frame():
    command = [sys.executable, "-m", "bench.fairness", "--clients", "6", "--heavy", "2", "--fps", "2"]
    command += ["--heavy-fps", "8", "--latency-ms", "20", "--processes", "1", "--concurrency", "2"]
    command += ["--seconds", "1.5", "--json"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [run["mode"] for run in report["runs"]] == ["unloaded", "fifo", "fair", "fair+latest"]
    for run in report["runs"]:
        assert run["sent"] > 0
        assert run["answered"] == run["sent"] - run["coalesced"], run
        assert set(run["clients"]) == ({"light"} if run["mode"] == "unloaded" else {"light", "heavy"})
        for figures in run["clients"].values():
            assert 0 <= figures["wait"]["p50"] <= figures["wait"]["p95"] <= figures["wait"]["p99"]
            assert figures["answer_age"]["p50"] >= figures["wait"]["p50"]
