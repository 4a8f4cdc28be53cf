"""`manage.py rungateway`: one command that starts a gateway with the WebSocket caps the settings
compute, instead of a number copied by hand into every unit file.

Here the tests that start real processes;
the others are in tests/unit/proctoring_site/test_gateway_command.py."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from proctoring.core.protocol import ErrorCode
from proctoring.gateway.tokens import make_token
from proctoring_site.gateway import daphne_argv
from tests.support import Process, child_env, free_port, python, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rungateway_serves_probes_and_lets_the_consumer_refuse_a_large_frame(attempt, processes, tmp_path):
    port = free_port()
    gateway = Process(
        python("manage.py", "rungateway", "--port", str(port), "--processes", "1"),
        child_env(),
        tmp_path / "rungateway.log",
    )
    processes.append(gateway)

    def ready() -> bool:
        assert gateway.popen.poll() is None, gateway.log()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                return bool(json.load(response)["status"] == "ready")
        except OSError:
            return False

    wait_until(ready, 30, "the gateway's /readyz")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        assert json.load(response) == {"status": "ok"}
    # manage.py became daphne: same process, daphne's command line with the caps.
    cmdline = Path(f"/proc/{gateway.popen.pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert [part.decode() for part in cmdline] == daphne_argv(port)
    # 1.5 MB: over daphne's own 1 MiB default, so only the cap lets the consumer answer it.
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    with connect(url, open_timeout=10, max_size=None) as ws:
        ws.send(b"\xff" * 1_500_000)
        answer = json.loads(ws.recv(timeout=10))
    assert answer["code"] == ErrorCode.FRAME_TOO_LARGE
