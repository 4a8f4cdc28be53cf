"""The start-up check of the Redis credentials: a refused password or an untrusted certificate stops
the gateway, a worker or `make run` with one line naming the setting to fix. A Redis that does not
answer at all stops nothing: the gateway answers frames `unavailable` and workers retry until it is
back."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from proctoring_site import redis_clients
from proctoring_site.redis_config import redacted, sentinel_kwargs

log = logging.getLogger("proctoring.startup")


def refusal(url: str, options: Mapping[str, Any], timeout: float = 5.0) -> str | None:
    """Why Redis at `url` refuses a client made with `options`, as one line that never shows the
    password; None when it answers PING, and when it cannot be reached at all."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0), **options
    )
    return _refusal(
        client, redacted(url), urlsplit(url).password, "REDIS_PASSWORD or the password in REDIS_URL"
    )


def configured_refusal(timeout: float = 5.0) -> str | None:
    """`refusal` of the configured Redis: under Sentinel, of each sentinel (their own password)
    and then of the primary they name."""
    config = settings.REDIS_SENTINEL
    if config is None:
        return refusal(settings.REDIS_URL, settings.REDIS_TLS_OPTIONS, timeout)
    # A sentinel that refuses its password looks to redis-py like one that knows no primary:
    # ask each one directly first.
    options = {**sentinel_kwargs(config, settings.REDIS_TLS_OPTIONS), "retry": Retry(NoBackoff(), 0)}
    for host, port in config.sentinels:
        reason = _refusal(
            redis.Redis(host, port, **options),
            f"the sentinel at {host}:{port}",
            config.sentinel_password,
            "REDIS_SENTINEL_PASSWORD",
        )
        if reason:
            return reason
    client = redis_clients.client(
        socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    return _refusal(
        client, f"the primary {config.master!r} of {config.url}", config.password, "REDIS_PASSWORD"
    )


def _refusal(client: redis.Redis, where: str, password: str | None, setting: str) -> str | None:
    try:
        client.ping()
    except (redis.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError) as exc:
        return _password_refused(where, password, str(exc), setting)
    except redis.ResponseError as exc:
        return _password_refused(where, password, str(exc), setting) if "NOAUTH" in str(exc) else None
    except redis.ConnectionError as exc:
        if isinstance(exc.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            exc
        ):
            reason = str(exc.__context__ or exc)
            return (
                f"Redis at {where} presented a certificate that failed verification ({reason}): "
                "set REDIS_TLS_CA_FILE to the CA that signed it, and reach Redis by a name or address "
                "its certificate lists"
            )
        return None
    except redis.RedisError:
        return None  # a timeout: not there yet
    finally:
        client.close()
    return None


def _password_refused(where: str, password: str | None, reason: str, setting: str) -> str:
    if not password:
        return f"Redis at {where} requires a password (NOAUTH): set {setting}"
    for shown in {password, unquote(password)}:
        reason = reason.replace(shown, "***")
    return f"Redis at {where} refused the password ({reason.rstrip('.')}): check {setting}"


def exit_if_refused(process: str) -> None:
    """Stops this process (exit status 1, the reason on stderr) when the configured Redis refuses
    its password or certificate.

    Args:
        process: what is starting ("gateway", "worker"), the start of the line.
    """
    reason = configured_refusal()
    if reason:
        raise SystemExit(f"{process}: {reason}")


def wait_until_reachable(process: str, most: float = 30.0) -> None:
    """Returns once the configured Redis answers, trying again after 1, 2, 4… (at most `most`)
    seconds: a worker started before Redis (a host booting, Redis restarting) waits for it
    instead of exiting."""
    delay = 1.0
    while True:
        client = redis_clients.client(socket_connect_timeout=5, socket_timeout=5, retry=Retry(NoBackoff(), 0))
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # LOADING is a ConnectionError
            log.warning(
                "%s: Redis at %s does not answer (%s); trying again in %.0f s",
                process,
                redacted(settings.REDIS_URL),
                exc,
                delay,
            )
        finally:
            client.close()
        time.sleep(delay)
        delay = min(delay * 2, most)


# What Redis answers while it cannot take writes for a while, not because a command was wrong:
# a primary without its replicas (min-replicas-to-write), out of memory under noeviction, a node
# demoted to replica mid-failover, a failed background save, a data set still loading.
_REFUSING_FOR_NOW = ("NOREPLICAS", "OOM command not allowed", "READONLY", "MISCONF", "MASTERDOWN", "LOADING")


def refusing_for_now(exc: BaseException) -> bool:
    """Whether `exc` is Redis refusing commands for a while (wait and try again), rather than a
    bug (give up). redis-py reports a refusal inside a pipeline as a ResponseError naming it."""
    return isinstance(exc, redis.ResponseError) and any(code in str(exc) for code in _REFUSING_FOR_NOW)
