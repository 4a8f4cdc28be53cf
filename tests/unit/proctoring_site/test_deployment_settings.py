"""Settings a deployment sets: secrets read from files (`<NAME>_FILE`), a PostgreSQL DATABASE_URL,
DJANGO_STATIC_ROOT, and the reference API mounted only where asked for. (test_settings.py beside it
has the typed readers and Redis; it is long enough.)

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_deployment_settings.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from proctoring_site.env import SECRETS, Env, with_secret_files
from proctoring_site.redis_config import redis_url


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("from-the-file\n")
    return path


@pytest.mark.parametrize("name", SECRETS)
def test_each_secret_is_read_from_the_file_its_FILE_variable_names(name, secret_file):
    values = with_secret_files({f"{name}_FILE": str(secret_file), "OTHER": "kept"})
    assert values[name] == "from-the-file"
    assert values["OTHER"] == "kept"


def test_only_the_trailing_newline_is_dropped(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"p@ss word\twith = signs\r\n")
    assert (
        with_secret_files({"REDIS_PASSWORD_FILE": str(path)})["REDIS_PASSWORD"] == "p@ss word\twith = signs"
    )


def test_paths_ending_in_FILE_that_are_not_secrets_are_left_alone(secret_file):
    values = {"REDIS_TLS_CA_FILE": str(secret_file), "DJANGO_ENV_FILE": str(secret_file)}
    assert with_secret_files(values) == values


def test_a_password_from_a_file_reaches_the_redis_url(tmp_path):
    path = tmp_path / "redis-password"
    path.write_text("pa:ss/word\n")
    env = Env(with_secret_files({"REDIS_HOST": "cache.internal", "REDIS_PASSWORD_FILE": str(path)}))
    assert redis_url(env) == "redis://:pa%3Ass%2Fword@cache.internal:6379/0"


def test_both_a_value_and_a_file_are_refused_naming_both(secret_file):
    with pytest.raises(ImproperlyConfigured) as refused:
        with_secret_files({"PROCTORING_API_KEY": "inline", "PROCTORING_API_KEY_FILE": str(secret_file)})
    assert "PROCTORING_API_KEY and PROCTORING_API_KEY_FILE are both set" in str(refused.value)


def test_an_empty_value_beside_a_file_counts_as_unset(secret_file):
    # What a compose file's `environment: {NAME: ""}` does to a value from its env_file.
    values = with_secret_files({"DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": str(secret_file)})
    assert values["DJANGO_SECRET_KEY"] == "from-the-file"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda tmp: tmp / "absent", "No such file or directory", id="missing"),
        pytest.param(lambda tmp: tmp, "Is a directory", id="directory"),
        pytest.param(lambda tmp: _written(tmp / "empty", b"\n"), "an empty file", id="empty"),
        pytest.param(lambda tmp: _written(tmp / "binary", b"\xff\xfe"), "not UTF-8 text", id="not-text"),
    ],
)
def test_an_unusable_file_is_refused_naming_the_variable_and_the_path(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ImproperlyConfigured) as refused:
        with_secret_files({"DATABASE_URL_FILE": str(path)})
    message = str(refused.value)
    assert message.startswith("DATABASE_URL_FILE names ") and reason in message and repr(str(path)) in message


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_the_error_never_shows_the_files_content(tmp_path):
    path = tmp_path / "key"
    path.write_text("the-real-secret\n")
    with pytest.raises(ImproperlyConfigured) as refused:
        with_secret_files({"DJANGO_SECRET_KEY": "other-secret", "DJANGO_SECRET_KEY_FILE": str(path)})
    assert "secret" not in str(refused.value).replace("SECRET", "")


def test_a_relative_static_root_is_refused():
    with pytest.raises(
        ImproperlyConfigured, match="DJANGO_STATIC_ROOT must be an absolute path, got 'static'"
    ):
        Env({"DJANGO_STATIC_ROOT": "static"}).path("DJANGO_STATIC_ROOT", Path("/default"))
