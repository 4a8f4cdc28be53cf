"""Typed readers for environment variables: a wrong value names the variable and stops start-up."""

from __future__ import annotations

import builtins
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# The settings that may come from a file instead: `<NAME>_FILE=/run/secrets/x` (Docker secrets,
# systemd's LoadCredential=) gives NAME the file's text. An explicit list, because names such as
# REDIS_TLS_CA_FILE and DJANGO_ENV_FILE end in _FILE and mean a path.
SECRETS = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "REDIS_SENTINEL_PASSWORD",
    "PROCTORING_API_KEY",
    "PROCTORING_STATS_TOKEN",
    "REFERENCE_API_KEY",
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    """Reads settings from a mapping (the process environment plus an optional `.env` file)."""

    def __init__(self, values: Mapping[str, builtins.str]) -> None:
        self._values = values

    def raw(self, name: builtins.str) -> builtins.str | None:
        value = self._values.get(name)
        return None if value is None else value.strip()

    def is_set(self, name: builtins.str) -> builtins.bool:
        return bool(self.raw(name))

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0), got {value!r}")

    def choice(
        self, name: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        """One of `choices` (compared without case); empty or unset gives `default`."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        if value.lower() not in choices:
            shown = ", ".join(repr(choice) for choice in choices if choice)
            raise ImproperlyConfigured(f"{name} must be one of {shown}, got {value!r}")
        return value.lower()

    def int(
        self,
        name: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
        _check_range(name, number, minimum, maximum)
        return number

    def float(
        self,
        name: builtins.str,
        default: builtins.float,
        *,
        minimum: builtins.float | None = None,
        maximum: builtins.float | None = None,
    ) -> builtins.float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        number = _finite(name, value, value)
        _check_range(name, number, minimum, maximum)
        return number

    def interval(
        self,
        name: builtins.str,
        default: tuple[builtins.float, builtins.float],
        *,
        minimum: builtins.float,
        maximum: builtins.float,
    ) -> tuple[builtins.float, builtins.float]:
        """Two numbers `FROM,TO` around zero (FROM ≤ 0 ≤ TO), each between `minimum` and `maximum`."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        parts = value.split(",")
        if len(parts) != 2:
            raise ImproperlyConfigured(f"{name} must be two numbers FROM,TO (e.g. -10,2), got {value!r}")
        start, end = (_finite(name, part, value) for part in parts)
        for number in (start, end):
            _check_range(name, number, minimum, maximum)
        if not start <= 0 <= end:
            raise ImproperlyConfigured(f"{name} must go from at most 0 to at least 0, got {value!r}")
        return start, end

    def path(self, name: builtins.str, default: Path) -> Path:
        """An absolute path (a relative one would depend on the directory a process starts in)."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        if not Path(value).is_absolute():
            raise ImproperlyConfigured(f"{name} must be an absolute path, got {value!r}")
        return Path(value)

    def ints(
        self,
        name: builtins.str,
        default: tuple[builtins.int, ...],
        *,
        minimum: builtins.int,
        maximum: builtins.int,
        most: builtins.int,
    ) -> tuple[builtins.int, ...]:
        """Whole numbers `A,B,…` (at most `most` of them), each between `minimum` and `maximum`."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() for part in parts) or len(parts) > most:
            raise ImproperlyConfigured(f"{name} must be up to {most} whole numbers A,B,…, got {value!r}")
        numbers = tuple(int(part) for part in parts)
        for number in numbers:
            _check_range(name, number, minimum, maximum)
        return numbers

    def list(self, name: builtins.str, default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        value = self.raw(name)
        if value is None or value == "":
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]


def _finite(name: str, text: str, value: str) -> float:
    """`text` (a part of `value`, or all of it) as a finite number."""
    try:
        number = float(text)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    return number


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number!r}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number!r}")


def read_dotenv(path: Path) -> dict[str, str]:
    """Parses a `.env` file of KEY=VALUE lines; the real environment wins over it."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def with_secret_files(values: Mapping[str, str], names: Iterable[str] = SECRETS) -> dict[str, str]:
    """`values` with each of `names` whose `<NAME>_FILE` is set read from that file.

    The file's text counts without its trailing newline (what `echo` and most secret stores
    write). Setting both NAME and NAME_FILE, naming a file that cannot be read or an empty one
    stops start-up naming the variable; the error never shows the file's content."""
    resolved = dict(values)
    for name in names:
        file_variable = f"{name}_FILE"
        path = (values.get(file_variable) or "").strip()
        if not path:
            continue
        if (values.get(name) or "").strip():
            raise ImproperlyConfigured(f"{name} and {file_variable} are both set: set only one of them")
        resolved[name] = _read_secret(file_variable, path)
    return resolved


def _read_secret(variable: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{variable} names a file that cannot be read ({exc.strerror or exc}), got {path!r}"
        ) from None
    except UnicodeDecodeError:
        raise ImproperlyConfigured(f"{variable} names a file that is not UTF-8 text, got {path!r}") from None
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ImproperlyConfigured(f"{variable} names an empty file, got {path!r}")
    return value


def load(base_dir: Path) -> Env:
    """The environment as settings see it: `.env` (optional) overlaid by the real environment,
    with the secrets given as files read (`with_secret_files`)."""
    values = read_dotenv(Path(os.environ.get("DJANGO_ENV_FILE", base_dir / ".env")))
    values.update(os.environ)
    return Env(with_secret_files(values))
