"""Settings a deployment sets: secrets read from files (`<NAME>_FILE`), a PostgreSQL DATABASE_URL,
DJANGO_STATIC_ROOT, and the reference API mounted only where asked for. (test_settings.py beside it
has the typed readers and Redis; it is long enough.)

Here the tests that start real processes;
the others are in tests/unit/proctoring_site/test_deployment_settings.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import start_django

# --- secrets from files ----------------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("from-the-file\n")
    return path


def test_start_up_reads_secrets_from_files(tmp_path):
    (tmp_path / "key").write_text("a-secret-key-from-a-credential-file-0123456789abcdef\n")
    (tmp_path / "token").write_text("a-stats-token-from-a-file\n")
    changes = {
        "DJANGO_SECRET_KEY": None,
        "DJANGO_SECRET_KEY_FILE": str(tmp_path / "key"),
        "PROCTORING_STATS_TOKEN_FILE": str(tmp_path / "token"),
    }
    code = "from django.conf import settings; print(settings.SECRET_KEY, settings.PROCTORING_STATS_TOKEN)"
    result = start_django(changes, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "a-secret-key-from-a-credential-file-0123456789abcdef",
        "a-stats-token-from-a-file",
    ]


def test_start_up_stops_when_a_secret_is_set_both_ways(secret_file):
    result = start_django({"DJANGO_SECRET_KEY_FILE": str(secret_file)})  # DJANGO_SECRET_KEY is set too
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE are both set" in result.stderr


# --- PostgreSQL, static files, the reference API ----------------------------------------------------


def settings_of(changes: dict[str, str | None], names: str) -> list[object]:
    """The named settings as a fresh process computes them from the test environment plus
    `changes`, without django.setup() (which would load the database driver)."""
    code = f"import json; from django.conf import settings; print(json.dumps([settings.{names}]))"
    result = start_django(changes, code, setup=False)
    assert result.returncode == 0, result.stderr
    values: list[object] = json.loads(result.stdout)
    return values


def test_a_postgres_url_yields_the_postgresql_engine():
    # No connection is made, and no driver loaded: the machine's own PostgreSQL plays no part.
    url = "postgres://proctoring:pw@db.internal:5432/proctoring?sslmode=verify-full&connect_timeout=5"
    [database] = settings_of({"DATABASE_URL": url}, 'DATABASES["default"]')
    assert isinstance(database, dict)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["HOST"], database["PORT"]) == (
        "proctoring", "proctoring", "db.internal", 5432,
    )  # fmt: skip
    assert database["OPTIONS"] == {"sslmode": "verify-full", "connect_timeout": 5}


def test_static_root_is_settable_and_defaults_to_var_static():
    code = "from django.conf import settings; print(settings.STATIC_ROOT)"
    assert start_django({"DJANGO_STATIC_ROOT": "/var/www/proctoring/static"}, code).stdout.strip() == (
        "/var/www/proctoring/static"
    )
    default = start_django({"DJANGO_STATIC_ROOT": None}, code)
    assert default.stdout.strip().endswith("/var/static"), default.stderr


RESOLVE_REFERENCE_API = """
from django.urls import Resolver404, resolve
try:
    print(resolve("/reference-api/v1/analyze").url_name)
except Resolver404:
    print("not served")
"""


@pytest.mark.parametrize(
    ("changes", "served"),
    [
        pytest.param({"DJANGO_DEBUG": "false", "PROCTORING_REFERENCE_API": None}, False, id="production"),
        pytest.param({"DJANGO_DEBUG": "false", "PROCTORING_REFERENCE_API": "true"}, True, id="asked-for"),
        pytest.param({"DJANGO_DEBUG": "true", "PROCTORING_REFERENCE_API": None}, True, id="development"),
        pytest.param({"DJANGO_DEBUG": "true", "PROCTORING_REFERENCE_API": "false"}, False, id="turned-off"),
    ],
)
def test_the_reference_api_is_served_only_in_development_or_when_asked_for(changes, served):
    result = start_django(changes, RESOLVE_REFERENCE_API)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("reference-api-analyze" if served else "not served")
