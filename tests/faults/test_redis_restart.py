"""Redis restarts under a streaming gateway and a working worker, gracefully and with kill -9,
with AOF on: every acked frame reaches the API, and gateway and worker carry on by themselves.

Each test prints one line for docs/reliability.md's table."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from rq.registry import FailedJobRegistry

from proctoring.gateway.tokens import make_token
from proctoring.queue import enqueue
from proctoring_site.embedded_redis import RedisServer
from tests.faults.camera import Camera
from tests.support import Process, RecordingApi, Reply, child_env, python, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ENV = {"PROCTORING_MAX_PENDING_PER_CLIENT": "200"}  # a blocked API must not turn frames away


def delivered(api: RecordingApi) -> set[str]:
    return {call.headers["Idempotency-Key"] for call in list(api.calls)}


def stop_all(processes: list[Process]) -> None:
    """Gateways and workers, before the Redis they use: one stopping with its Redis gone waits
    for it (a worker's last bookkeeping) until the fixture's SIGKILL, 20 s later."""
    for process in reversed(processes):
        process.stop()


def settle(api: RecordingApi, acked: set[str], server: RedisServer) -> tuple[set[str], list[str]]:
    """Waits until every acked frame reached the API or failed; returns (lost, failed ids)."""
    client = redis.Redis.from_url(server.url, decode_responses=True)
    failed_registry = FailedJobRegistry("proctoring", connection=client)

    def failed() -> list[str]:
        return [str(job_id) for job_id in failed_registry.get_job_ids(cleanup=False)]

    def idle() -> bool:
        return not (
            client.llen("rq:queue:proctoring")
            or client.zcard("rq:wip:proctoring")
            or client.zcard("rq:scheduled:proctoring")
        )

    try:
        wait_until(lambda: acked <= delivered(api) | set(failed()) or (idle() and idle()), 90, "settled")
        wait_until(lambda: acked <= delivered(api) | set(failed()), 10, "every acked frame accounted for")
    except AssertionError:
        pass  # reported below as lost, with the numbers
    done = failed()
    lost = acked - delivered(api) - set(done)
    for job_id in sorted(lost)[:5]:  # what became of them, for the failure message
        try:
            job = dict(
                zip(
                    ("status", "started_at", "worker_name"),
                    client.hmget(f"rq:job:{job_id}", ["status", "started_at", "worker_name"]),
                    strict=True,
                )
            )
            where = [
                name
                for name, found in [
                    ("queued", client.lpos("rq:queue:proctoring", job_id) is not None),
                    ("started", client.zscore("rq:wip:proctoring", job_id) is not None),
                    ("scheduled", client.zscore("rq:scheduled:proctoring", job_id) is not None),
                    ("frame", client.exists(f"proctoring:frame:{job_id}")),
                ]
                if found
            ]
            status = f"{job.get('status')!r} in {where}, started {job.get('started_at')!r}"
            status += f", worker {job.get('worker_name')!r}"
        except redis.RedisError as exc:
            status = repr(exc)
        print(f"lost {job_id}: job status {status}")
    client.close()
    return lost, done


def test_a_graceful_redis_restart_keeps_every_acked_frame_and_both_sides_reconnect(
    attempt, api, start_daphne, start_worker, tmp_path, processes
):
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        _, port = start_daphne(REDIS_URL=server.url, **ENV)
        start_worker(REDIS_URL=server.url, **ENV)
        api.block()  # frames pile up queued and in flight when Redis stops
        with Camera(f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}") as cam:
            for _ in range(10):
                cam.send()
            wait_until(lambda: api.calls, 10, "a call in flight")
            server.stop()  # SIGTERM: Redis writes and syncs its AOF, then exits
            server = RedisServer(tmp_path / "redis", port=server.port, appendonly=True).start()
            restarted = time.monotonic()
            first = cam.send()
            recovered = cam.acked[first] - restarted
            for _ in range(9):
                cam.send()
        api.release()
        lost, failed = settle(api, set(cam.acked), server)
    finally:
        stop_all(processes)
        server.stop()
    print(
        f"graceful restart: {len(cam.acked)} acked, {len(delivered(api) & set(cam.acked))} delivered, "
        f"{len(failed)} failed, {len(lost)} lost; first ack {recovered:.2f}s after Redis was back, "
        f"{cam.reconnects} reconnects"
    )
    assert not lost and not failed
    assert cam.reconnects == 0, "the camera's socket outlived the restart"


@pytest.mark.parametrize("fsync", ["everysec", "always"])
def test_redis_killed_with_sigkill_mid_stream_loses_no_acked_frame(
    fsync: str, exam, api, start_daphne, start_worker, tmp_path, processes
):
    """kill -9 loses nothing acked: Redis writes a command to the AOF (the OS's page cache)
    before it answers, so only a crash of the whole machine can lose the last fsync window
    (about a second with `everysec`; nothing with `always`)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from exams.models import Attempt

    api.script(Reply(delay=0.05))
    server = RedisServer(tmp_path / "redis", appendonly=True, appendfsync=fsync).start()
    users = get_user_model()
    attempts = [
        Attempt.objects.create(
            user=users.objects.create_user(f"t{i}"), exam=exam, consented_at=timezone.now()
        )
        for i in range(3)
    ]
    cameras: list[Camera] = []
    try:
        _, port = start_daphne(REDIS_URL=server.url, **ENV)
        start_worker(REDIS_URL=server.url, **ENV)
        cameras = [
            Camera(f"ws://127.0.0.1:{port}/ws/proctoring/{a.pk}/?token={make_token(a)}") for a in attempts
        ]
        back = threading.Event()
        stop = threading.Event()
        after_restart = [0] * len(cameras)
        errors: list[BaseException] = []

        def stream(index: int) -> None:
            camera = cameras[index]
            try:
                while not stop.is_set():
                    camera.send(timeout=60)
                    if back.is_set():
                        after_restart[index] += 1
                    time.sleep(0.05)  # 20 frames/s per camera
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=stream, args=(i,), daemon=True) for i in range(len(cameras))]
        for thread in threads:
            thread.start()
        wait_until(lambda: all(len(c.acked) >= 20 for c in cameras), 30, "streaming")
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        server.process.wait(10)
        server.process = None
        at_risk = sum(1 for c in cameras for at in c.acked.values() if killed - at < 1.0)
        server = RedisServer(tmp_path / "redis", port=server.port, appendonly=True, appendfsync=fsync).start()
        restarted = time.monotonic()
        back.set()
        wait_until(lambda: min(after_restart) >= 10 or errors, 60, "streaming again after the restart")
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        first_after: Callable[[Camera], float] = lambda c: min(at for at in c.acked.values() if at > killed)  # noqa: E731
        recovery = max(first_after(c) for c in cameras) - killed
        acked = {job_id for c in cameras for job_id in c.acked}
        lost, failed = settle(api, acked, server)
    finally:
        for camera in cameras:
            camera.close()
        stop_all(processes)
        server.stop()
    unavailable = sum(c.unavailable for c in cameras)
    print(
        f"kill -9, appendfsync {fsync}: {len(acked)} acked, {len(delivered(api) & acked)} delivered, "
        f"{len(failed)} failed, {len(lost)} lost ({at_risk} acked in the last second before the kill); "
        f"every camera acked again {recovery:.2f}s after the kill (Redis back after "
        f"{restarted - killed:.2f}s); {unavailable} frames answered unavailable meanwhile"
    )
    assert not lost, f"acked frames lost: {sorted(lost)[:5]}"
    assert not failed


def test_a_worker_started_before_redis_waits_for_it(processes, tmp_path):
    """A host that boots its workers before Redis (or a Redis being restarted) does not lose
    them: a worker waits, saying so, and works once Redis answers."""
    server = RedisServer(tmp_path / "redis", appendonly=True)  # not started yet
    worker = Process(
        python("manage.py", "rqworker", "proctoring"),
        child_env(REDIS_URL=server.url, **ENV),
        tmp_path / "worker-early.log",
    )
    processes.append(worker)
    try:
        wait_until(lambda: "does not answer" in worker.log(), 30, "the worker says it waits")
        assert worker.popen.poll() is None, worker.log()
        server.start()
        client = redis.Redis.from_url(server.url)
        wait_until(lambda: client.scard("rq:workers:proctoring"), 60, "registered once Redis is there")
        client.close()
    finally:
        worker.stop()
        server.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_the_scheduler_outlives_a_redis_restart_and_a_dead_scheduler_is_replaced(
    attempt, api, settings, start_worker, tmp_path, processes
):
    """Retries and delayed frames are queued by the worker's scheduler (a child process). RQ's
    died with the first failed Redis command and came back only at the worker's next maintenance,
    ten minutes later: a Redis restart stalled every retry that long."""
    from proctoring.core.frames import parse_image
    from tests.support import jpeg_bytes

    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    settings.REDIS_URL = server.url  # this test's frames go to this server
    try:
        worker = start_worker(REDIS_URL=server.url, **ENV)
        wait_until(lambda: _children(worker.popen.pid), 30, "the scheduler process")
        client = str(attempt.pk)

        def delayed_frame_delivered(seq: int) -> None:
            job_id = enqueue.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20), delay=1)
            wait_until(lambda: job_id in delivered(api), 30, "the delayed frame queued and delivered")

        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        server.process = None
        try:
            wait_until(
                lambda: "scheduler: Redis unavailable" in worker.log(), 30, "the scheduler meets the outage"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the worker's log ends:\n{worker.log()[-4000:]}") from None
        server = RedisServer(tmp_path / "redis", port=server.port, appendonly=True).start()
        delayed_frame_delivered(1)

        (scheduler,) = _children(worker.popen.pid)
        os.kill(scheduler, signal.SIGKILL)
        wait_until(lambda: "scheduler (pid" in worker.log(), 30, "the worker sees its scheduler gone")
        delayed_frame_delivered(2)
        assert _children(worker.popen.pid) and _children(worker.popen.pid) != [scheduler]
    finally:
        stop_all(processes)
        server.stop()


def test_a_scheduler_stops_when_its_worker_is_killed(start_worker):
    """A scheduler that waits out Redis outages must not outlive its worker: killed with
    SIGKILL, the worker cannot stop it, so it notices by itself."""
    worker = start_worker()
    (scheduler,) = wait_until(lambda: _children(worker.popen.pid), 30, "the scheduler process")
    worker.popen.send_signal(signal.SIGKILL)
    worker.popen.wait(10)

    def gone() -> bool:
        try:
            os.kill(scheduler, 0)
        except ProcessLookupError:
            return True
        state = Path(f"/proc/{scheduler}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"  # exited, not yet reaped by init

    wait_until(gone, 15, "the orphaned scheduler stops")
