"""`manage.py rungateway`: one command that starts a gateway with the WebSocket caps the settings
compute, instead of a number copied by hand into every unit file.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_gateway_command.py."""

from __future__ import annotations

import shlex
import sys

import pytest
from django.core.management import CommandError, call_command

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
    call_command("rungateway", "--port", "8002", "--bind", "10.0.0.5", "--proxy-headers")
    expected = daphne_argv(8002, bind="10.0.0.5", proxy_headers=True)
    assert executed == [(sys.executable, expected)]


def test_dry_run_prints_the_command_line(capsys, monkeypatch):
    monkeypatch.setattr("os.execv", lambda path, argv: pytest.fail("--dry-run ran daphne"))
    call_command("rungateway", "--dry-run")
    assert shlex.split(capsys.readouterr().out) == daphne_argv(8000)


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(CommandError, match=f"--port must be 1-65535, got {port}"):
        call_command("rungateway", "--port", port)
