"""A production start-up (DJANGO_DEBUG off) refuses a secret anyone could know: a missing, short or
placeholder DJANGO_SECRET_KEY (with it, a camera token for any attempt can be forged) and a
placeholder PROCTORING_STATS_TOKEN; `manage.py check`, daphne and rqworker all stop, naming the
variable. The placeholders shipped in deploy/ are among those refused, so a copied example does not
start until its secrets are replaced."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import BASE_DIR, free_port, start_django

EXAMPLES = [BASE_DIR / "deploy" / "proctoring.env.example", BASE_DIR / "deploy" / "docker" / "env.example"]


def shipped(name: str) -> list[str]:
    """The values the shipped example files give `name`."""
    values = []
    for path in EXAMPLES:
        for line in path.read_text().splitlines():
            if line.startswith(f"{name}="):
                values.append(line.partition("=")[2])
    assert values, f"no {name} in the examples"
    return values


REFUSED_SECRET_KEYS = {
    "change-me": "change-me",
    "short": "Qx7-k2Lm9Zp4Rt8Vw3Ny6Bc1Hd5Jf0Gs",  # 32 random characters: fewer than 50
    "django-insecure": "django-insecure-" + "7f3k9x2m5q8w1z4r6t0y3u7i9o2p5a8s1d4f6g9h",
    "few-characters": "ab" * 40,
    "change-me-long": "change-me-" + "0123456789" * 5,
    **{f"shipped-{number}": value for number, value in enumerate(shipped("DJANGO_SECRET_KEY"))},
}
REFUSED_STATS_TOKENS = {
    "change-me": "change-me-to-a-long-random-token",
    "short": "too-short-tok",
    **{f"shipped-{number}": value for number, value in enumerate(shipped("PROCTORING_STATS_TOKEN"))},
}
PRODUCTION = {"DJANGO_DEBUG": "false"}


@pytest.mark.parametrize("value", REFUSED_SECRET_KEYS.values(), ids=REFUSED_SECRET_KEYS.keys())
def test_production_start_up_refuses_a_known_or_weak_secret_key(value: str) -> None:
    result = start_django({**PRODUCTION, "DJANGO_SECRET_KEY": value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
    assert value not in result.stderr  # the message names the variable, never echoes a secret


@pytest.mark.parametrize("value", REFUSED_STATS_TOKENS.values(), ids=REFUSED_STATS_TOKENS.keys())
def test_start_up_refuses_a_placeholder_or_short_stats_token(value: str) -> None:
    result = start_django({**PRODUCTION, "PROCTORING_STATS_TOKEN": value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "PROCTORING_STATS_TOKEN" in result.stderr


def test_development_start_up_keeps_its_placeholder_key() -> None:
    # `make run` (DJANGO_DEBUG on, no DJANGO_SECRET_KEY) must still start.
    result = start_django({"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": None}, "print('ready')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"


def test_a_real_secret_key_and_token_start() -> None:
    # The control for the refusals above.
    changes = {
        **PRODUCTION,
        "DJANGO_SECRET_KEY": "pX3v9Lq2Zt7Rk1Wm5Ny8Bc4Hd6Jf0Gs-aE2uI9oP3sD7fG1hJ5kL8zX4cV6bN0mQ",
        "PROCTORING_STATS_TOKEN": "Vt4mQ9xK2pL7wR3nZ8cB5hJ1dF6gS0yE",
    }
    result = start_django(changes, "print('ready')")
    assert result.returncode == 0, result.stderr


def run(command: list[str], changes: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`command` with the tests' environment plus `changes`; a server that starts after all is
    stopped after 20 seconds (TimeoutExpired fails the test)."""
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="proctoring_site.settings", **changes)
    return subprocess.run(command, cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=20)


SERVERS = {
    "check": ["manage.py", "check"],
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "proctoring_site.asgi:application"],
    "rqworker": ["manage.py", "rqworker", "proctoring"],
}


@pytest.mark.parametrize("command", SERVERS.values(), ids=SERVERS.keys())
@pytest.mark.parametrize(
    ("name", "value"),
    [("DJANGO_SECRET_KEY", "change-me"), ("PROCTORING_STATS_TOKEN", "change-me-to-a-long-random-token")],
)
def test_check_and_the_servers_exit_on_a_placeholder(command: list[str], name: str, value: str) -> None:
    port = str(free_port())
    result = run(
        [sys.executable, *(part.replace("{port}", port) for part in command)], {**PRODUCTION, name: value}
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
