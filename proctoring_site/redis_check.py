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

from proctoring_site.redis_config import redacted

log = logging.getLogger("proctoring.startup")


def refusal(url: str, options: Mapping[str, Any], timeout: float = 5.0) -> str | None:
    """Why Redis at `url` refuses a client made with `options`, as one line that never shows the
    password; None when it answers PING, and when it cannot be reached at all."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        **options,
    )
    try:
        client.ping()
    except (redis.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError) as exc:
        return _password_refused(url, str(exc))
    except redis.ResponseError as exc:
        return _password_refused(url, str(exc)) if "NOAUTH" in str(exc) else None
    except redis.ConnectionError as exc:
        if isinstance(exc.__context__, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            exc
        ):
            reason = str(exc.__context__ or exc)
            return (
                f"Redis at {redacted(url)} presented a certificate that failed verification ({reason}): "
                "set REDIS_TLS_CA_FILE to the CA that signed it, and reach Redis by a name or address "
                "its certificate lists"
            )
        return None
    except redis.RedisError:
        return None  # a timeout: not there yet
    finally:
        client.close()
    return None


def _password_refused(url: str, reason: str) -> str:
    password = urlsplit(url).password
    if not password:
        return (
            f"Redis at {redacted(url)} requires a password (NOAUTH): set REDIS_PASSWORD or put the "
            "password in REDIS_URL"
        )
    for shown in {password, unquote(password)}:
        reason = reason.replace(shown, "***")
    return (
        f"Redis at {redacted(url)} refused the password ({reason.rstrip('.')}): check REDIS_PASSWORD "
        "or the password in REDIS_URL"
    )


def exit_if_refused(process: str) -> None:
    """Stops this process (exit status 1, the reason on stderr) when the configured Redis refuses
    its password or certificate.

    Args:
        process: what is starting ("gateway", "worker"), the start of the line.
    """
    reason = refusal(settings.REDIS_URL, settings.REDIS_TLS_OPTIONS)
    if reason:
        raise SystemExit(f"{process}: {reason}")


def wait_until_reachable(process: str, most: float = 30.0) -> None:
    """Returns once the configured Redis answers, trying again after 1, 2, 4… (at most `most`)
    seconds: a worker started before Redis (a host booting, Redis restarting) waits for it
    instead of exiting."""
    delay = 1.0
    while True:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
            **settings.REDIS_TLS_OPTIONS,
        )
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
