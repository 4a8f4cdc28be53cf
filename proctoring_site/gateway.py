"""How a gateway is started: daphne serving `proctoring_site.asgi:application` with the WebSocket
caps the settings compute, for `manage.py rungateway` and `make run` alike."""

from __future__ import annotations

import sys

from django.conf import settings

APPLICATION = "proctoring_site.asgi:application"


def daphne_argv(
    port: int, *, bind: str = "127.0.0.1", proxy_headers: bool = False, fd: int | None = None
) -> list[str]:
    """The command line of a daphne gateway on `bind`:`port`, run by this interpreter.

    Args:
        port: the TCP port to listen on.
        bind: the address to listen on (an IPv6 address as it is, without brackets).
        proxy_headers: take the client's address from X-Forwarded-For (behind nginx or a
            platform's router), so that PROCTORING_MAX_CONNECTIONS_PER_IP counts takers.
        fd: serve this inherited listening socket instead of binding `bind`:`port` (one of
            `rungateway --processes N`'s gateways, `proctoring_site.gateway_group`).

    Returns:
        The argv, `sys.executable` first. Its message and frame caps are
        `settings.PROCTORING_MAX_MESSAGE_BYTES`: without them daphne drops a socket that sends a
        large frame (its default is 1 MiB) before the consumer could answer `frame_too_large`.
    """
    size = str(settings.PROCTORING_MAX_MESSAGE_BYTES)
    argv = [sys.executable, "-m", "daphne"]
    argv += ["--fd", str(fd)] if fd is not None else ["--bind", bind, "--port", str(port)]
    if proxy_headers:
        argv.append("--proxy-headers")
    argv += ["--websocket-max-message-size", size, "--websocket-max-frame-size", size, APPLICATION]
    return argv
