"""`make run`: the whole pipeline on this machine, stopped together with Ctrl-C.

Starts, in order: Redis (a private redis-server under var/redis with AOF on, unless REDIS_URL or
REDIS_HOST or REDIS_SENTINELS point elsewhere), migrations and the demo data, the web server (daphne), one
`rqworker proctoring` (with its scheduler), the background worker (`backgroundworker`: the attempts'
deadlines, the webhooks) and the reference proctoring API (a second daphne).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
HOST = "127.0.0.1"
ENV_FILE = VAR_DIR / "devstack.env"
# What a second terminal's `manage.py` needs to reach this stack (a URL given to `make run` may
# hold a password: the file is readable by its owner only).
SHARED_SETTINGS = (
    "DJANGO_DEBUG", "REDIS_URL", "REDIS_HOST", "REDIS_SENTINELS", "REDIS_SHARDS", "PROCTORING_API_URL",
    "PROCTORING_REFERENCE_API", "DATABASE_URL",
)  # fmt: skip


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis: object | None = None
        self.stopping = False

    def spawn(self, name: str, command: list[str]) -> None:
        print(f"[devstack] starting {name}: {' '.join(command)}", flush=True)
        self.children.append((name, subprocess.Popen(command, cwd=BASE_DIR, stdin=subprocess.DEVNULL)))

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        print("[devstack] stopping… (Ctrl-C again to kill at once)", flush=True)
        # A second Ctrl-C (or SIGTERM) while we wait must not abandon the children half-stopped.
        signal.signal(signal.SIGINT, self._kill_now)
        signal.signal(signal.SIGTERM, self._kill_now)
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in reversed(self.children):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"[devstack] {name} did not stop in time; killing it", flush=True)
                process.kill()
                process.wait()
        if self.redis is not None:
            from proctoring_site.embedded_redis import RedisServer

            assert isinstance(self.redis, RedisServer)
            self.redis.stop()
        print("[devstack] stopped", flush=True)

    def _kill_now(self, signum: int, frame: FrameType | None) -> None:
        for _, process in self.children:
            if process.poll() is None:
                process.kill()


def _wait_for_http(url: str, timeout: float, stack: Stack) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in stack.children:
            if process.poll() is not None:
                print(f"[devstack] {name} exited with {process.returncode}", flush=True)
                return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    VAR_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctoring_site.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    port = int(os.environ.get("PORT", "8000"))
    api_port = int(os.environ.get("REFERENCE_API_PORT", str(port + 1)))
    os.environ.setdefault("PROCTORING_API_URL", f"http://{HOST}:{api_port}/reference-api/v1/analyze")
    # Served by the second daphne below, also when DJANGO_DEBUG is off (a demo).
    os.environ.setdefault("PROCTORING_REFERENCE_API", "true")

    from proctoring_site.embedded_redis import RedisServer, port_is_free

    for taken, what in ((port, "PORT"), (api_port, "REFERENCE_API_PORT")):
        if not port_is_free(taken):
            print(f"[devstack] port {taken} is in use; set {what} to another port", file=sys.stderr)
            return 2

    stack = Stack()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicitly for SIGINT too: a shell starting us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not any(
            os.environ.get(name) for name in ("REDIS_URL", "REDIS_HOST", "REDIS_SENTINELS", "REDIS_SHARDS")
        ):
            redis_port = int(os.environ.get("EMBEDDED_REDIS_PORT", "6380"))
            if not port_is_free(redis_port):
                from proctoring_site.embedded_redis import free_port

                redis_port = free_port()
            server = RedisServer(VAR_DIR / "redis", redis_port, appendonly=True)
            print(f"[devstack] starting embedded Redis ({server.binary}) on port {redis_port}", flush=True)
            stack.redis = server.start(own_session=True)
            os.environ["REDIS_URL"] = server.url
        import django
        from django.conf import settings

        django.setup()
        from proctoring_site.redis_check import configured_refusal
        from proctoring_site.redis_config import redacted

        print(f"[devstack] Redis: {redacted(settings.REDIS_URL)}", flush=True)
        # For `manage.py` in a second terminal while this runs (removed when it stops).
        from proctoring_site import devstack_env

        shared = {name: os.environ[name] for name in SHARED_SETTINGS if os.environ.get(name)}
        devstack_env.write(ENV_FILE, shared, os.getpid())
        refused = configured_refusal()
        if refused:
            print(f"[devstack] {refused}", file=sys.stderr)
            return 2
        subprocess.run(_python("manage.py", "migrate", "--noinput", "-v", "0"), cwd=BASE_DIR, check=True)
        print("[devstack] demo accounts:", flush=True)
        subprocess.run(_python("manage.py", "seed_demo"), cwd=BASE_DIR, check=True)

        from proctoring_site.gateway import daphne_argv

        # One gateway per core, as deployed (`rungateway --processes`, its default).
        stack.spawn("web", _python("manage.py", "rungateway", "--bind", HOST, "--port", str(port)))
        stack.spawn("reference-api", daphne_argv(api_port, bind=HOST))
        stack.spawn("worker", _python("manage.py", "rqworker", "proctoring"))
        stack.spawn("background", _python("manage.py", "backgroundworker"))

        url = f"http://{HOST}:{port}/"
        if not _wait_for_http(url + "accounts/login/", 60, stack):
            print("[devstack] the web server did not come up", file=sys.stderr)
            return 1
        print(
            f"\n[devstack] ready: open {url}  (log in as student; as proctor: the live dashboard at "
            f"{url}proctor/, the queue at {url}admin/proctoring/queue/)",
            flush=True,
        )
        print("[devstack] Ctrl-C stops everything started here\n", flush=True)
        while True:
            for name, process in stack.children:
                if process.poll() is not None:
                    print(f"[devstack] {name} exited with {process.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        from proctoring_site import devstack_env

        devstack_env.remove(ENV_FILE, os.getpid())
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
