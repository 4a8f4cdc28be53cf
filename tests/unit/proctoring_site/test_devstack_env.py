"""`make run` leaves its settings for `manage.py` in a second terminal (issue 19, item 13), read only
while it runs and only by a shell that names no Redis of its own."""

from __future__ import annotations

import os
from pathlib import Path

from proctoring_site import devstack_env

VALUES = {"DJANGO_DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6390/0", "PROCTORING_API_URL": "http://x/"}


def dead_pid() -> int:
    """A pid no process has now (a stack that stopped without removing its file: killed)."""
    highest = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(highest - 1, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("every pid is taken")


def test_a_second_shell_gets_the_running_stacks_settings(tmp_path: Path) -> None:
    path = tmp_path / devstack_env.FILE_NAME
    devstack_env.write(path, VALUES, os.getpid())
    environ: dict[str, str] = {"PATH": "/bin", "PROCTORING_API_URL": "http://mine/"}
    assert devstack_env.load(path, environ)
    assert environ["REDIS_URL"] == VALUES["REDIS_URL"] and environ["DJANGO_DEBUG"] == "true"
    assert environ["PROCTORING_API_URL"] == "http://mine/", "what the shell sets wins"
    assert devstack_env.PID_VARIABLE not in environ
    assert path.stat().st_mode & 0o077 == 0, "readable by its owner only: a URL may hold a password"


def test_nothing_is_read_once_that_stack_is_gone(tmp_path: Path) -> None:
    path = tmp_path / devstack_env.FILE_NAME
    devstack_env.write(path, VALUES, dead_pid())
    environ: dict[str, str] = {}
    assert not devstack_env.load(path, environ)
    assert environ == {}


def test_a_shell_with_a_redis_of_its_own_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / devstack_env.FILE_NAME
    devstack_env.write(path, VALUES, os.getpid())
    for name in devstack_env.REDIS_VARIABLES:
        environ = {name: "elsewhere"}
        assert not devstack_env.load(path, environ)
        assert environ == {name: "elsewhere"}


def test_no_file_changes_nothing(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert not devstack_env.load(tmp_path / devstack_env.FILE_NAME, environ)
    assert environ == {}


def test_the_file_is_removed_only_by_the_stack_that_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / devstack_env.FILE_NAME
    devstack_env.write(path, VALUES, os.getpid())
    devstack_env.remove(path, os.getpid() + 1)
    assert path.exists()
    devstack_env.remove(path, os.getpid())
    assert not path.exists()
