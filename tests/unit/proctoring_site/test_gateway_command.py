"""`manage.py rungateway`: one command that starts a gateway with the WebSocket caps the settings
compute, instead of a number copied by hand into every unit file.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_gateway_command.py."""

from __future__ import annotations

import shlex
import sys

import pytest
from django.core.management import CommandError, call_command

from proctoring_site import gateway_group
from proctoring_site.gateway import daphne_argv


def test_argv_runs_daphne_with_the_settings_message_cap(settings):
    settings.PROCTORING_MAX_MESSAGE_BYTES = 123456
    assert daphne_argv(8001) == [
        sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", "8001",
        "--websocket-max-message-size", "123456", "--websocket-max-frame-size", "123456",
        "proctoring_site.asgi:application",
    ]  # fmt: skip


def test_argv_binds_where_asked_and_trusts_proxy_headers_only_when_asked(settings):
    argv = daphne_argv(8000, bind="0.0.0.0", proxy_headers=True)
    assert argv[3:8] == ["--bind", "0.0.0.0", "--port", "8000", "--proxy-headers"]
    assert "--proxy-headers" not in daphne_argv(8000)


def test_command_becomes_daphne_with_its_options(settings, monkeypatch):
    executed: list[tuple[str, list[str]]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: executed.append((path, argv)))
    call_command("rungateway", "--port", "8002", "--bind", "10.0.0.5", "--proxy-headers", "--processes", "1")
    expected = daphne_argv(8002, bind="10.0.0.5", proxy_headers=True)
    assert executed == [(sys.executable, expected)]


def test_dry_run_prints_the_command_line(capsys, monkeypatch):
    monkeypatch.setattr("os.execv", lambda path, argv: pytest.fail("--dry-run ran daphne"))
    call_command("rungateway", "--dry-run", "--processes", "1")
    assert shlex.split(capsys.readouterr().out) == daphne_argv(8000)


def test_several_processes_each_serve_an_inherited_socket(capsys, monkeypatch):
    monkeypatch.setattr("os.execv", lambda path, argv: pytest.fail("--dry-run ran daphne"))
    call_command("rungateway", "--dry-run", "--processes", "3")
    out = capsys.readouterr().out
    assert out.startswith("3 x ")
    argv = shlex.split(out.partition(": ")[2])
    assert argv[3:5] == ["--fd", "3"] and "--port" not in argv
    assert daphne_argv(8000, fd=7)[3:5] == ["--fd", "7"]


def test_the_default_is_one_process_per_core_this_process_may_use(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 5})
    assert gateway_group.default_processes() == 3


@pytest.mark.parametrize("count", ["0", "65"])
def test_a_process_count_out_of_range_is_refused(count):
    with pytest.raises(CommandError, match=f"--processes must be 1-64, got {count}"):
        call_command("rungateway", "--processes", count)


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(CommandError, match=f"--port must be 1-65535, got {port}"):
        call_command("rungateway", "--port", port)
