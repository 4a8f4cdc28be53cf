"""One Redis for django-rq and the channel layer: an address from `REDIS_URL` or the `REDIS_*`
parts, or a primary found through Redis Sentinel (`REDIS_SENTINELS`), and the TLS options every
client of it is given."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured

from proctoring.core.redaction import redacted_url
from proctoring_site.env import Env

_SCHEMES = ("redis", "rediss", "unix")
_ADDRESS_SETTINGS = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT")


@dataclass(frozen=True)
class SentinelConfig:
    """Redis found through Sentinel: the sentinels to ask, the name they monitor the primary
    under, the data nodes' password and the sentinels' own (each may be empty)."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    password: str = ""
    sentinel_password: str = ""
    tls: bool = False

    @property
    def url(self) -> str:
        """A description for logs and keys (never a password), not a URL redis-py can open."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        scheme = "rediss+sentinel" if self.tls else "redis+sentinel"
        return f"{scheme}://{hosts}/{self.master}"


def redis_shards(env: Env) -> list[str]:
    """`REDIS_SHARDS=url,url,…`: independent Redis primaries that clients are spread over ([] when
    not set). Each is checked as `REDIS_URL` is; all use the same scheme (one TLS setting)."""
    if not env.is_set("REDIS_SHARDS"):
        if env.is_set("REDIS_SHARD"):
            raise ImproperlyConfigured("REDIS_SHARD set without REDIS_SHARDS; set REDIS_SHARDS too")
        return []
    both = [name for name in (*_ADDRESS_SETTINGS, "REDIS_SENTINELS") if env.is_set(name)]
    if both:
        raise ImproperlyConfigured(
            f"REDIS_SHARDS and {', '.join(both)} are both set: with shards, REDIS_SHARD picks this "
            "process's shard; unset the other"
        )
    urls = [redis_url(Env({"REDIS_URL": url})) for url in env.list("REDIS_SHARDS", [])]
    if len({urlsplit(url).scheme for url in urls}) > 1:
        raise ImproperlyConfigured("REDIS_SHARDS mixes schemes: reach every shard the same way (TLS or not)")
    if len(set(urls)) != len(urls):
        raise ImproperlyConfigured("REDIS_SHARDS lists a shard twice")
    return urls


def sentinel_config(env: Env) -> SentinelConfig | None:
    """`REDIS_SENTINELS=host:port,…` and `REDIS_SENTINEL_MASTER` (default "proctoring"), with
    `REDIS_PASSWORD`, `REDIS_SENTINEL_PASSWORD` and `REDIS_TLS`; None when no sentinels are set."""
    if not env.is_set("REDIS_SENTINELS"):
        stray = [name for name in ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD") if env.is_set(name)]
        if stray:
            raise ImproperlyConfigured(
                f"{', '.join(stray)} set without REDIS_SENTINELS; set REDIS_SENTINELS too"
            )
        return None
    both = [name for name in _ADDRESS_SETTINGS if env.is_set(name)]
    if both:
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS and {', '.join(both)} are both set: the sentinels say where the "
            "primary is; unset the other"
        )
    sentinels = tuple(_address(item) for item in env.list("REDIS_SENTINELS", []))
    if not sentinels:
        raise ImproperlyConfigured("REDIS_SENTINELS is set but lists no host:port")
    master = env.str("REDIS_SENTINEL_MASTER", "proctoring")
    if not master or any(char.isspace() for char in master):
        raise ImproperlyConfigured(f"REDIS_SENTINEL_MASTER must be a name without spaces, got {master!r}")
    return SentinelConfig(
        sentinels=sentinels,
        master=master,
        password=env.str("REDIS_PASSWORD"),
        sentinel_password=env.str("REDIS_SENTINEL_PASSWORD"),
        tls=env.bool("REDIS_TLS", False),
    )


def _address(item: str) -> tuple[str, int]:
    host, _, port = item.strip().rpartition(":")
    host = host.strip("[]")  # [::1]:26379
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ImproperlyConfigured(f"REDIS_SENTINELS entries must be host:port, got {item.strip()!r}")
    return host, int(port)


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
    if not url.startswith(("rediss://", "rediss+sentinel://")):
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
    """The URL with its password hidden, for logs and start-up banners (the one redaction every
    URL shown gets: `proctoring.core.redaction`)."""
    return redacted_url(url)


# How long a client waits for one sentinel: a sentinel that is down costs this, then the next is
# asked; the primary's address is asked for on every new connection.
SENTINEL_TIMEOUT = 1.0


def sentinel_kwargs(config: SentinelConfig, tls: dict[str, Any]) -> dict[str, Any]:
    """redis-py's keyword arguments for the connections to the sentinels themselves."""
    options: dict[str, Any] = {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT}
    if config.sentinel_password:
        options["password"] = config.sentinel_password
    if config.tls:
        options.update(ssl=True, **tls)
    return options


def node_kwargs(config: SentinelConfig, tls: dict[str, Any]) -> dict[str, Any]:
    """redis-py's keyword arguments for a Sentinel-managed pool's connections to the primary
    (`ssl` is the pool's cue to make TLS connections)."""
    options: dict[str, Any] = {"db": 0}
    if config.password:
        options["password"] = config.password
    if config.tls:
        options.update(ssl=True, **tls)
    return options


def rq_connection(config: SentinelConfig | None, url: str, tls: dict[str, Any]) -> dict[str, Any]:
    """django-rq's connection settings for the queue."""
    if config is None:
        return {"URL": with_options(url, tls)}
    nodes = node_kwargs(config, tls)
    return {
        "SENTINELS": list(config.sentinels),
        "MASTER_NAME": config.master,
        "DB": nodes.pop("db"),
        "PASSWORD": nodes.pop("password", None),
        "SOCKET_TIMEOUT": 10,
        "CONNECTION_KWARGS": {"socket_connect_timeout": 5, **nodes},
        "SENTINEL_KWARGS": sentinel_kwargs(config, tls),
    }


def channel_layer_host(
    config: SentinelConfig | None, url: str, tls: dict[str, Any], **options: Any
) -> dict[str, Any]:
    """channels-redis's entry for the one host of the channel layer."""
    if config is None:
        return {"address": url, **options, **tls}
    return {
        "sentinels": list(config.sentinels),
        "master_name": config.master,
        "sentinel_kwargs": sentinel_kwargs(config, tls),
        **node_kwargs(config, tls),
        **options,
    }
