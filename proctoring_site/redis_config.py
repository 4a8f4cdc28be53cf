"""One Redis address for django-rq and the channel layer, from `REDIS_URL` or the `REDIS_*` parts,
and the TLS options every client of it is given."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured

from proctoring_site.env import Env

_SCHEMES = ("redis", "rediss", "unix")


def redis_url(env: Env, default: str = "redis://127.0.0.1:6379/0") -> str:
    """`REDIS_URL` when set, else one built from `REDIS_HOST`, `_PORT`, `_PASSWORD` and `_TLS`."""
    if env.is_set("REDIS_URL"):
        url = env.str("REDIS_URL")
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise ImproperlyConfigured(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {url!r}"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ImproperlyConfigured(f"REDIS_URL has a port that is not a number: {url!r}") from None
        return url
    if not env.is_set("REDIS_HOST"):
        stray = [name for name in ("REDIS_PORT", "REDIS_PASSWORD", "REDIS_TLS") if env.is_set(name)]
        if stray:
            raise ImproperlyConfigured(f"{', '.join(stray)} set without REDIS_HOST; set REDIS_HOST too")
        return default
    host = env.str("REDIS_HOST")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = env.int("REDIS_PORT", 6379, minimum=1, maximum=65535)
    password = env.str("REDIS_PASSWORD")
    scheme = "rediss" if env.bool("REDIS_TLS", False) else "redis"
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"{scheme}://{auth}{host}:{port}/0"


def tls_options(env: Env, url: str) -> dict[str, Any]:
    """redis-py's keyword arguments for reaching `url` over TLS ({} for plain redis://).

    The server's certificate and host name are always checked, against `REDIS_TLS_CA_FILE` (a
    private CA) when set, else against the system's CAs."""
    ca_file = env.str("REDIS_TLS_CA_FILE")
    if not url.startswith("rediss://"):
        if ca_file:
            raise ImproperlyConfigured(
                "REDIS_TLS_CA_FILE is set but Redis is not reached over TLS: use a rediss:// "
                f"REDIS_URL or REDIS_TLS=true, got {redacted(url)!r}"
            )
        return {}
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if ca_file:
        if not Path(ca_file).is_file():
            raise ImproperlyConfigured(f"REDIS_TLS_CA_FILE is not a file, got {ca_file!r}")
        try:
            ssl.create_default_context(cafile=ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ImproperlyConfigured(
                f"REDIS_TLS_CA_FILE is not a readable PEM CA bundle ({exc}), got {ca_file!r}"
            ) from None
        options["ssl_ca_certs"] = ca_file
    return options


def with_options(url: str, options: dict[str, Any]) -> str:
    """`url` carrying `options` as query arguments, which redis-py's `from_url` passes on as
    keyword arguments: for django-rq, whose URL setting takes no other TLS option."""
    if not options:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [
        (name, str(value).lower() if isinstance(value, bool) else str(value))
        for name, value in options.items()
    ]
    return parts._replace(query=urlencode(query)).geturl()


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and start-up banners."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
