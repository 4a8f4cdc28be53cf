"""Probes for load balancers and orchestrators: `/healthz` (liveness: the process answers; it
touches neither Redis nor the database) and `/readyz` (readiness: Redis answers PING and the
database a trivial query). Its verdict is kept for VERDICT_SECONDS per process, so that a flood of
unauthenticated hits costs Redis and the database one round trip each per interval, not one per hit.

`probe_middleware`, first in MIDDLEWARE, answers both before any other middleware: a prober comes
to a gateway's own address over plain HTTP, which ALLOWED_HOSTS and the HTTPS redirect would
refuse, and needs no session or login. An answer never shows an address, a password or an error
message: a failed check names the check and the exception's class; the log says more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from inspect import iscoroutinefunction
from typing import cast

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from redis.backoff import NoBackoff
from redis.retry import Retry

from proctoring_site import redis_clients

log = logging.getLogger("proctoring.health")

# Probers give up after a few seconds, and a gateway's sync views share one thread: a Redis that
# does not answer costs a readiness probe at most this (once, no retry).
REDIS_TIMEOUT = 2.0

# Probers ask every few seconds; anyone who reaches the port may ask far more often. A verdict a
# second old is as good to a load balancer, and the hits in between cost nothing.
VERDICT_SECONDS = 1.0

_lock = threading.Lock()
_failing: set[str] = set()
# Held while the checks run, so that the hits arriving meanwhile wait for their verdict instead
# of each asking again.
_verdict_lock = threading.Lock()
_verdict: tuple[float, dict[str, str]] | None = None  # (monotonic time it was reached, checks)


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: 200 `{"status": "ok"}` whenever the process serves requests at all."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return _answer({"status": "ok"}, 200)


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when Redis and the database both answer, else 503; the body says which
    (`{"status": "ready"|"unavailable", "checks": {"redis": "ok"|"failed: <Exception>", ...}}`)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    checks = _checks()
    ready = all(outcome == "ok" for outcome in checks.values())
    return _answer({"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


@sync_and_async_middleware
def probe_middleware(
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]:
    """Answers the probes' paths itself, ahead of host validation, the HTTPS redirect, sessions
    and authentication. Under ASGI, `/healthz` is answered on the event loop (it blocks nothing)
    and `/readyz` in the thread of the sync views."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            probe = PROBES.get(request.path_info)
            if probe is healthz:
                return healthz(request)
            if probe is not None:
                answer: HttpResponse = await sync_to_async(probe)(request)
                return answer
            return await cast(Awaitable[HttpResponse], get_response(request))

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return cast(HttpResponse, get_response(request))

    return middleware


def _answer(body: dict[str, object], status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    # Django logs every 5xx at ERROR; a prober asks every few seconds, so while Redis is down
    # that would be a line per probe. `_check` logs each change of outcome once instead.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _checks() -> dict[str, str]:
    """Each check's outcome, asked again once the last verdict is VERDICT_SECONDS old."""
    global _verdict
    with _verdict_lock:
        if _verdict is not None and time.monotonic() - _verdict[0] < VERDICT_SECONDS:
            return dict(_verdict[1])
        checks = {"redis": _check("redis", _ping_redis), "database": _check("database", _query_database)}
        _verdict = (time.monotonic(), checks)
        return dict(checks)


def forget_verdict() -> None:
    """Drops the kept verdict: the next /readyz asks Redis and the database (tests, after they
    change what the checks reach)."""
    global _verdict
    with _verdict_lock:
        _verdict = None


def _check(name: str, probe: Callable[[], None]) -> str:
    """ "ok", or "failed: <exception class>"; logs a change of outcome once, not every probe."""
    try:
        probe()
    except Exception as exc:  # whatever fails, the process is not ready
        with _lock:
            first = name not in _failing
            _failing.add(name)
        if first:
            log.warning("readyz: the %s check failed: %s: %s", name, type(exc).__name__, exc)
        return f"failed: {type(exc).__name__}"
    with _lock:
        recovered = name in _failing
        _failing.discard(name)
    if recovered:
        log.info("readyz: the %s check passes again", name)
    return "ok"


def _ping_redis() -> None:
    # The configured Redis as every client of ours reaches it (under Sentinel, the primary the
    # sentinels name), with a connection of its own: the shared pool may wait for a free one.
    client = redis_clients.client(
        socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()


def _query_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
