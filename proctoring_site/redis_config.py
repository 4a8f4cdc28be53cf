"""One Redis address for django-rq and the channel layer, from `REDIS_URL` or the `REDIS_*` parts."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

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


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and start-up banners."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
