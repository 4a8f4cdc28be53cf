"""The gateway (daphne) stops under streaming cameras, gracefully or with kill -9, and a new one
starts on the same address: the cameras reconnect by themselves and every frame acked before
and after reaches the API. Prints one line per case for docs/reliability.md's table."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exams.models import Attempt
from proctoring.gateway.tokens import make_token
from tests.faults.camera import Camera, streaming_threads
from tests.support import RecordingApi, free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CAMERAS = 3


def delivered(api: RecordingApi) -> set[str]:
    return {call.headers["Idempotency-Key"] for call in list(api.calls)}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_cameras_reconnect_to_a_restarted_gateway_and_no_acked_frame_is_lost(
    stop_signal: int, exam, api, start_worker, start_daphne
):
    users, now = get_user_model(), timezone.now()
    attempts = [
        Attempt.objects.create(user=users.objects.create_user(f"t{i}"), exam=exam, consented_at=now)
        for i in range(CAMERAS)
    ]
    port = free_port()
    gateway, _ = start_daphne(port)
    start_worker()
    cameras = [Camera(f"ws://127.0.0.1:{port}/ws/proctoring/{a.pk}/?token={make_token(a)}") for a in attempts]
    stop = threading.Event()
    errors: list[BaseException] = []

    threads = streaming_threads(cameras, stop, errors, 10)
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: all(len(c.acked) >= 10 for c in cameras) or errors, 30, "streaming")
        gateway.stop(stop_signal)
        stopped = time.monotonic()
        start_daphne(port)
        restarted = time.monotonic()

        def acked_after(camera: Camera) -> int:
            return sum(1 for at in camera.acked.values() if at > stopped)

        wait_until(lambda: all(acked_after(c) >= 10 for c in cameras) or errors, 60, "streaming again")
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        recovery = max(min(at for at in c.acked.values() if at > stopped) for c in cameras) - stopped
        acked = {job_id for c in cameras for job_id in c.acked}
        wait_until(lambda: acked <= delivered(api), 60, "every acked frame delivered")
    finally:
        stop.set()
        for camera in cameras:
            camera.close()
    reconnects = sum(c.reconnects for c in cameras)
    print(
        f"gateway {signal.Signals(stop_signal).name}: {len(acked)} acked, {len(acked & delivered(api))} "
        f"delivered, 0 lost; every camera acked again {recovery:.2f}s after the stop (new gateway "
        f"listening after {restarted - stopped:.2f}s); {reconnects} reconnect attempts"
    )
    assert all(c.reconnects for c in cameras), "each camera had to reconnect"
