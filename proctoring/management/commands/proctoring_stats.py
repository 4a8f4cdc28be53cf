"""Prints the queue's figures: per state, workers, throughput per minute and per client."""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError

from proctoring.ops import stats


class Command(BaseCommand):
    help = "Show the proctoring queue: counts per state, workers, frames per minute, and per client."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object (one per line with --watch)")
        parser.add_argument(
            "--watch", type=float, metavar="SECONDS", help="print again every SECONDS until interrupted"
        )
        parser.add_argument(
            "--clients", type=int, default=50, metavar="N", help="show the N most recent clients (default 50)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        watch = options["watch"]
        if watch is not None and watch <= 0:
            raise CommandError("--watch takes a number of seconds above 0")
        if options["clients"] < 0:
            raise CommandError("--clients takes a number of clients, 0 or more")
        try:
            while True:
                self._print(options)
                if watch is None:
                    return
                time.sleep(watch)
        except KeyboardInterrupt:
            return

    def _print(self, options: dict[str, Any]) -> None:
        try:
            snapshot = stats.snapshot(client_limit=options["clients"])
        except redis.RedisError as exc:
            raise CommandError(f"Redis cannot be reached: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(snapshot, separators=(",", ":")))
        else:
            self.stdout.write(render(snapshot))
        self.stdout.flush()


def render(snapshot: dict[str, Any]) -> str:
    queue = snapshot["queue"]
    age = queue["oldest_queued_age_s"]
    lines = [
        f"queue {queue['queue']} at {snapshot['generated_at']}"
        + ("  PAUSED" if queue["paused"] else "")
        + _circuit(queue.get("api_circuit", {})),
        "  ".join(f"{name} {queue[name]}" for name in ("queued", "running", "retrying", "deferred", "failed"))
        + f"  delivered late {queue['late']}"
        + f"  expired (past the backfill horizon) {queue['stale_dropped']}"
        + f"  taken back from dead workers {queue['recovered']}"
        + f"  failed images dropped {queue['failed_images_evicted']}"
        + (f"  oldest queued {age:.1f}s" if age is not None else ""),
        f"order {queue['order']}, latest-frame-wins {queue['coalesce']}, replaced {queue['coalesced']}, "
        f"time corrected {queue['clock_corrected']}; "
        + "  ".join(
            f"{label} p50/p95/p99 {_secs(queue[f'{kind}_p50_s'])}/{_secs(queue[f'{kind}_p95_s'])}/"
            f"{_secs(queue[f'{kind}_p99_s'])}"
            for kind, label in (("wait", "wait"), ("run", "run"), ("age", "answer age"))
        ),
        "",
        f"workers ({len(snapshot['workers'])})",
    ]
    for worker in snapshot["workers"]:
        lines.append(
            f"  {worker['name']}  {worker['state']}  running {worker['running']}  "
            f"delivered {worker['delivered']}  expired {worker['dropped']}  "
            f"failed attempts {worker['failed']}  failed for good {worker['failed_for_good']}  "
            f"last beat {worker['last_heartbeat']}"
        )
    lines += ["", "per minute (received / completed / failed)"]
    lines.append(
        "  "
        + "  ".join(
            f"{row['minute'][11:16]} {row['received']}/{row['completed']}/{row['failed']}"
            for row in snapshot["throughput"][-5:]
        )
    )
    lines += ["", _table(snapshot["clients"])]
    return "\n".join(lines)


COLUMNS = (
    "client",
    "user",
    "exam",
    "queued",
    "running",
    "retrying",
    "failed",
    "completed_today",
    "wait p95",
    "age p95",
    "expired",
    "replaced",
    "time corrected",
    "last frame",
)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no clients have sent frames"
    cells = [COLUMNS] + [
        (
            row["client"],
            row["user"] or "-",
            row["exam"] or "-",
            *(str(row[name]) for name in ("queued", "running", "retrying", "failed", "completed_today")),
            _secs(row.get("wait_p95")),
            _secs(row.get("age_p95")),
            str(row.get("stale", 0)),
            str(row.get("coalesced", 0)),
            str(row.get("clock_corrected", 0)),
            _when(row["last_frame_at"]),
        )
        for row in rows
    ]
    widths = [max(len(str(line[index])) for line in cells) for index in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells
    )


def _secs(value: float | None) -> str:
    """A percentile in seconds (estimated from histogram buckets), "-" without data."""
    return "-" if value is None else f"{value:g}s"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def _circuit(circuit: dict[str, Any]) -> str:
    if not circuit.get("open"):
        return ""
    state = str(circuit.get("state", "open")).upper()
    return f"  API CIRCUIT {state} ({circuit.get('failures')}/{circuit.get('threshold')} failures)"
