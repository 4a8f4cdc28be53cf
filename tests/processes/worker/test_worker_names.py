"""Workers are named `<short hostname>.<pid>`, with a suffix when a live worker holds that name
(RQ would refuse to start a second one), and `--name` wins.

Here the tests that start real processes;
the others are in tests/integration/worker/test_worker_names.py."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from rq.worker import Worker

from proctoring.queue import policy
from tests.support import wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rqworker_names_its_worker_host_and_pid_unless_given_a_name(start_worker: Any) -> None:
    named = start_worker("--name", "night-shift")
    plain = start_worker()
    host = socket.gethostname().split(".")[0]
    workers = wait_until(lambda: Worker.all(queue=policy.get_queue()), 10, "workers listed")
    assert {(w.name, w.pid) for w in workers} == {
        ("night-shift", named.popen.pid),
        (f"{host}.{plain.popen.pid}", plain.popen.pid),
    }
    assert f"Worker {host}.{plain.popen.pid}: started with PID {plain.popen.pid}" in plain.log()
