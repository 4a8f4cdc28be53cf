"""Shared fixtures: the private Redis (started by tests.redis_plugin), a recording API server,
exam data, and real worker and daphne processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.utils import timezone

from exams.models import Attempt, Exam
from proctoring.store.connections import get_redis
from tests import redis_plugin
from tests.support import Process, RecordingApi, child_env, free_port, python, wait_until


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[None]:
    """Every test starts with the private Redis empty (it is ours alone: FLUSHALL is safe)."""
    get_redis().flushall()
    yield


@pytest.fixture
def redis_conn() -> redis.Redis:
    return get_redis()


@pytest.fixture
def api(settings: Any) -> Iterator[RecordingApi]:
    """A recording proctoring API on 127.0.0.1, configured as PROCTORING_API_URL."""
    server = RecordingApi().start()
    settings.PROCTORING_API_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def exam(db: None) -> Exam:
    return Exam.objects.create(slug="algebra", title="Algebra")


@pytest.fixture
def user(db: None) -> Any:
    return get_user_model().objects.create_user("taker", password="taker-pass-123")


@pytest.fixture
def attempt(user: Any, exam: Exam) -> Attempt:
    return Attempt.objects.create(user=user, exam=exam, consented_at=timezone.now())


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture
def start_worker(processes: list[Process], tmp_path: Path) -> Callable[..., Process]:
    """Starts `python manage.py rqworker proctoring` exactly as an operator types it; ready once
    it has registered itself in the Redis it was given (`REDIS_URL` in `env`, else the suite's)."""

    def start(*extra: str, watch: redis.Redis | None = None, **env: str) -> Process:
        """`watch`: where to see it register, when `env` names its Redis otherwise (Sentinel)."""
        if watch is not None:
            connection = watch
        else:
            connection = redis.Redis.from_url(env["REDIS_URL"]) if env.get("REDIS_URL") else get_redis()
        before = connection.scard("rq:workers:proctoring")
        worker = Process(
            python("manage.py", "rqworker", "proctoring", *extra),
            child_env(**env),
            tmp_path / f"worker-{len(processes)}.log",
        )
        processes.append(worker)
        wait_until(
            lambda: connection.scard("rq:workers:proctoring") > before or worker.popen.poll() is not None,
            30,
            "worker registration",
        )
        if connection is not get_redis() and connection is not watch:
            connection.close()
        assert worker.popen.poll() is None, worker.log()
        return worker

    return start


@pytest.fixture
def start_background_worker(processes: list[Process], tmp_path: Path, redis_conn) -> Callable[..., Process]:
    """`python manage.py backgroundworker` as the deployment runs it (`env`: settings of its
    own); ready once registered."""

    def start(**env: str) -> Process:
        worker = Process(
            python("manage.py", "backgroundworker"), child_env(**env), tmp_path / "background.log"
        )
        processes.append(worker)
        wait_until(
            lambda: redis_conn.scard("rq:workers:exams") or worker.popen.poll() is not None,
            30,
            "background worker registration",
        )
        assert worker.popen.poll() is None, worker.log()
        return worker

    return start


@pytest.fixture
def start_daphne(processes: list[Process], tmp_path: Path) -> Callable[..., tuple[Process, int]]:
    def start(port: int | None = None, **env: str) -> tuple[Process, int]:
        port = port or free_port()
        server = Process(
            python("-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "proctoring_site.asgi:application"),
            child_env(**env),
            tmp_path / f"daphne-{port}-{len(processes)}.log",
        )
        processes.append(server)

        def answers() -> bool:
            import socket

            assert server.popen.poll() is None, server.log()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_until(answers, 30, "daphne listening")
        return server, port

    return start


@pytest.fixture
def plugin_workdir() -> Path:
    return redis_plugin.workdir()


@pytest.fixture
def staff_client(client: Any) -> Any:
    """Django's test client, logged in as a superuser ("ops"): every queue page and every image.
    The roles' limits are `tests/integration/proctoring_site/test_roles.py`'s."""
    staff = get_user_model().objects.create_superuser("ops", password="ops-pass-123")
    client.force_login(staff)
    return client
