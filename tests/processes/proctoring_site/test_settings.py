"""Settings from the environment: typed readers, the one Redis address, start-up that stops when wrong.

Here the tests that start real processes;
the others are in tests/unit/proctoring_site/test_settings.py."""

from __future__ import annotations

import json

import pytest

from tests.support import start_django

# Each variable, and the environment changes that make it the one wrong value.
BAD_START_UPS: dict[str, dict[str, str | None]] = {
    "PROCTORING_MAX_PENDING_PER_CLIENT": {"PROCTORING_MAX_PENDING_PER_CLIENT": "-1"},
    "PROCTORING_API_TIMEOUT": {"PROCTORING_API_TIMEOUT": "abc"},
    "REDIS_PORT": {"REDIS_PORT": "notaport", "REDIS_HOST": "cache.internal", "REDIS_URL": None},
    "DJANGO_DEBUG": {"DJANGO_DEBUG": "maybe"},
    "PROCTORING_API_URL": {"PROCTORING_API_URL": "ftp://x"},
    "DATABASE_URL": {"DATABASE_URL": "nonsense://"},
    "DJANGO_SECRET_KEY": {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": None},
    "DJANGO_STATIC_ROOT": {"DJANGO_STATIC_ROOT": "var/static"},
    "DJANGO_SECRET_KEY_FILE": {"DJANGO_SECRET_KEY": None, "DJANGO_SECRET_KEY_FILE": "/nonexistent/secret"},
}


@pytest.mark.parametrize("name", list(BAD_START_UPS))
def test_start_up_stops_on_a_bad_value_naming_the_variable(name):
    result = start_django(BAD_START_UPS[name])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_start_up_succeeds_with_the_test_environment():
    # The control for the failures above: only the one bad variable made them fail.
    result = start_django({}, "print('ready')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"


PRINT_SETTINGS = """
import json
import django_rq
from django.conf import settings
kwargs = django_rq.get_queue("proctoring").connection.connection_pool.connection_kwargs
print(json.dumps({
    "timeout": settings.PROCTORING_API_TIMEOUT,
    "attempts": settings.PROCTORING_JOB_ATTEMPTS,
    "backoff": settings.PROCTORING_BACKOFF_SECONDS,
    "max_pending": settings.PROCTORING_MAX_PENDING_PER_CLIENT,
    "max_frame_bytes": settings.PROCTORING_MAX_FRAME_BYTES,
    "redis_url": settings.REDIS_URL,
    "rq_url": settings.RQ_QUEUES["proctoring"]["URL"],
    "channel_hosts": [h["address"] for h in settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]],
    "queue_connection": [kwargs["host"], kwargs["port"], kwargs["password"]],
}))
"""


def test_defaults_are_as_documented_and_one_redis_serves_queue_and_channels():
    documented = [
        "PROCTORING_API_TIMEOUT",
        "PROCTORING_JOB_ATTEMPTS",
        "PROCTORING_BACKOFF_SECONDS",
        "PROCTORING_MAX_PENDING_PER_CLIENT",
        "PROCTORING_MAX_FRAME_BYTES",
    ]
    changes: dict[str, str | None] = dict.fromkeys([*documented, "REDIS_URL"])
    changes.update(REDIS_HOST="cache.internal", REDIS_PORT="6380", REDIS_PASSWORD="pa:ss")
    result = start_django(changes, PRINT_SETTINGS)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["timeout"], shown["attempts"], shown["backoff"]) == (10, 3, 2)
    assert (shown["max_pending"], shown["max_frame_bytes"]) == (10, 1024 * 1024)
    assert shown["redis_url"] == "redis://:pa%3Ass@cache.internal:6380/0"
    assert shown["rq_url"] == shown["redis_url"]
    assert shown["channel_hosts"] == [shown["redis_url"]]
    assert shown["queue_connection"] == ["cache.internal", 6380, "pa:ss"]


def test_production_settings_pass_djangos_deploy_checks():
    production = {
        "DJANGO_DEBUG": "false",
        "DJANGO_HTTPS": None,  # its default outside development: on
        "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
        "DJANGO_ALLOWED_HOSTS": "proctor.example.org",
        "PROCTORING_API_URL": "https://api.example.org/v1/analyze",
    }
    done = start_django(
        production,
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\n"
        "from django.conf import settings\n"
        "print(settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS)",
    )
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True True 3600"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.faults.test_redis_tls import make_pki

    return str(make_pki(tmp_path_factory.mktemp("pki"), "Settings Test CA").ca)


PRINT_TLS_CLIENTS = """
import json
import django_rq
from django.conf import settings
from proctoring.store.connections import get_redis
def tls(kwargs):
    return [kwargs.get("ssl_ca_certs"), kwargs.get("ssl_cert_reqs"), kwargs.get("ssl_check_hostname")]
host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
print(json.dumps({
    "queue": tls(django_rq.get_queue("proctoring").connection.connection_pool.connection_kwargs),
    "worker": tls(django_rq.get_connection("proctoring").connection_pool.connection_kwargs),
    "ours": tls(get_redis().connection_pool.connection_kwargs),
    "channels": tls(host),
}))
"""


def test_every_redis_client_trusts_the_tls_ca_file(ca_file):
    changes = {"REDIS_URL": None, "REDIS_HOST": "cache.internal", "REDIS_PORT": "6390"}
    changes.update(REDIS_PASSWORD="pw", REDIS_TLS="true", REDIS_TLS_CA_FILE=ca_file)
    result = start_django(changes, PRINT_TLS_CLIENTS)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown == dict.fromkeys(["queue", "worker", "ours", "channels"], [ca_file, "required", True])


def test_start_up_stops_when_the_tls_ca_file_is_missing():
    result = start_django({"REDIS_URL": "rediss://cache.internal:6390/0", "REDIS_TLS_CA_FILE": "/no/ca.pem"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "REDIS_TLS_CA_FILE" in result.stderr
