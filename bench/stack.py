"""The processes a benchmark starts (a private Redis, a migrated SQLite database, servers, workers),
all on 127.0.0.1 and each stopped by its PID, and what /proc says about them (RSS, CPU time)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from proctoring_site.embedded_redis import RedisServer

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
UNUSED_API_URL = "http://127.0.0.1:9/unused"
# Variables of a developer's shell that would point the children at someone else's services
# (a proxy would carry the workers' API calls to 127.0.0.1 somewhere else).
FOREIGN_VARS = ["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_TLS", "PROCTORING_API_KEY"]
FOREIGN_VARS += [f"{name}_proxy" for name in ("http", "https", "all")]
FOREIGN_VARS += [name.upper() for name in FOREIGN_VARS[-3:]]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Makes SIGTERM unwind like Ctrl-C, so that the `finally` blocks stop every child."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


# --- Environment and commands -------------------------------------------------------------------


def child_env(
    workdir: Path, redis_url: str, max_pending: int, settings: str, api_url: str = UNUSED_API_URL
) -> dict[str, str]:
    """The environment of every Django process of a run: its own Redis, database and API only."""
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_VARS}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings,
            "DJANGO_ENV_FILE": str(workdir / "no.env"),  # a developer's .env must not leak in
            "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DJANGO_DEBUG": "false",
            "DJANGO_HTTPS": "false",  # plain HTTP on 127.0.0.1
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # BENCH_LOG_LEVEL=INFO measures with the per-job event log lines on.
            "DJANGO_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "PROCTORING_API_URL": api_url,
            "PROCTORING_MAX_PENDING_PER_CLIENT": str(max_pending),
            # Benches queue far more than a live exam would, with no worker or a slow one.
            "PROCTORING_MAX_QUEUED": str(max(max_pending, 1_000_000)),
            # A backlog queued up front would otherwise age past the stale limit while it drains,
            # and a frame dropped as stale never reaches the API the bench is measuring.
            # BENCH_MAX_FRAME_AGE=3600 measures the live window's bookkeeping (every frame live).
            "PROCTORING_MAX_FRAME_AGE": os.environ.get("BENCH_MAX_FRAME_AGE", "0"),
            # Every load client connects from 127.0.0.1 (one address for hundreds of takers).
            "PROCTORING_MAX_CONNECTIONS_PER_IP": "0",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Runs `manage.py ARGS` and returns its stdout; a failure raises with its stderr."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout


@contextmanager
def migrated_stack(
    workdir: Path,
    *,
    max_pending: int,
    settings: str,
    api_url: str = UNUSED_API_URL,
    appendonly: bool = False,
) -> Iterator[dict[str, str]]:
    """A private redis-server (AOF as `appendonly`) and a migrated SQLite database in `workdir`;
    yields the children's environment and stops Redis at the end."""
    server = RedisServer(workdir / "redis", appendonly=appendonly)
    try:
        server.start(own_session=True)
        env = child_env(workdir, server.url, max_pending, settings, api_url)
        aof = " (AOF on)" if appendonly else ""
        progress(f"redis{aof} on {server.url}; migrating {workdir / 'db.sqlite3'}")
        manage(env, "migrate", "--noinput", "-v", "0")
        yield env
    finally:
        server.stop()


# --- Processes ----------------------------------------------------------------------------------


def start_process(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Starts `command` in ROOT with its output in `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us only; we stop it by PID
        )


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = 60, name: str = "daphne"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {HOST}:{port} within {timeout}s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after `timeout`; then the same for any child it left behind."""
    orphans = descendants(process.pid) if process.poll() is None else []
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for pid in orphans:
        _stop_pid(pid, timeout)


def _stop_pid(pid: int, timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _state(pid) == "Z":
                return
            time.sleep(0.05)


# --- /proc --------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11])."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rpartition(")")[2].split()


def _state(pid: int) -> str:
    try:
        return _stat_fields(pid)[0]
    except OSError:
        return "X"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren...), from each process's ppid."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue  # it ended while we looked
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def _tree(roots: list[int]) -> set[int]:
    return {*roots, *(child for root in roots for child in descendants(root))}


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB, from /proc."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def tree_memory_kb(pids: list[int]) -> dict[str, int]:
    """Sums over `pids` and all their descendants, in kB: `rss` (VmRSS, which counts pages that
    forked processes share once per process) and `pss` (each shared page split between them)."""
    totals = {"rss": 0, "pss": 0}
    for pid in _tree(pids):
        try:
            totals["rss"] += memory_kb(pid).get("VmRSS", 0)
            totals["pss"] += _pss_kb(pid)
        except OSError:
            continue  # it ended while we looked
    return totals


def _pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by `pids`, their live descendants and every child
    they have already reaped (a forking worker's work horses)."""
    ticks = 0
    for pid in _tree(pids):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS
