"""`bench.fake_api` as a child process of a benchmark: started on a free port, asked for its
tally over HTTP, and stopped by PID."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.fake_api import ANALYZE_PATH
from bench.stack import HOST, progress, start_process, stop_process, tree_cpu_seconds, wait_for_port
from proctoring_site.embedded_redis import free_port

# Straight to 127.0.0.1, whatever proxy a developer's shell names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FakeApiProcess:
    """Context manager: `python -m bench.fake_api` listening on 127.0.0.1 until the block ends."""

    def __init__(
        self,
        workdir: Path,
        latency_ms: float,
        jitter_ms: float = 0,
        error_rate: float = 0,
        flag_rate: float = 0,
    ) -> None:
        self.port = free_port()
        self.log_path = workdir / "fake_api.log"
        self.command = [
            sys.executable, "-m", "bench.fake_api", "--port", str(self.port),
            "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms), "--error-rate", str(error_rate),
            "--flag-rate", str(flag_rate),
        ]  # fmt: skip
        self.base = f"http://{HOST}:{self.port}"
        self.url = self.base + ANALYZE_PATH
        self._cpu = 0.0

    def __enter__(self) -> FakeApiProcess:
        self.process = start_process(self.command, dict(os.environ), self.log_path)
        try:
            wait_for_port(self.process, self.port, self.log_path, name="fake API")
        except BaseException:
            stop_process(self.process)
            raise
        progress(f"fake API (pid {self.process.pid}) at {self.url}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cpu = self.cpu_seconds()
        stop_process(self.process)

    def _call(self, method: str, path: str) -> dict[str, Any]:
        body = b"" if method == "POST" else None
        request = urllib.request.Request(self.base + path, method=method, data=body)
        with _DIRECT.open(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    def stats(self) -> dict[str, Any]:
        """The tally since the last reset (see `bench.fake_api.Tally.as_json`)."""
        return self._call("GET", "/stats")

    def samples(self) -> list[list[Any]]:
        """Per analysis since the last reset: arrival, answer, client id, frame age on arrival."""
        request = urllib.request.Request(self.base + "/samples", method="GET")
        with _DIRECT.open(request, timeout=30) as response:
            answer: list[list[Any]] = json.loads(response.read())
            return answer

    def reset(self) -> None:
        self._call("POST", "/reset")

    def cpu_seconds(self) -> float:
        """CPU time the API process has used (kept after it stops)."""
        if self.process.poll() is not None:
            return self._cpu
        return tree_cpu_seconds([self.process.pid])
