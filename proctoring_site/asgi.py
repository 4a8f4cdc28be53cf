"""ASGI entry point: HTTP goes to Django, WebSockets to the proctoring consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctoring_site.settings")
# Django must be set up before anything imports models (the consumer does).
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from proctoring.routing import websocket_urlpatterns  # noqa: E402
from proctoring_site import backpressure, gc_tuning, redis_check  # noqa: E402

# A wrong password or CA stops the gateway here; a Redis that is down does not (frames get
# `unavailable` until it is back).
redis_check.exit_if_refused("gateway")
# A camera the gateway cannot keep up with is read no faster than it is served.
backpressure.install()

if settings.SERVE_STATIC:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

# Origin checks happen in the consumer: a cookie session must come from an allowed origin,
# a signed token (camera clients that send no Origin) need not. Each route brings its own
# session middleware (`proctoring.routing`).
application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# Everything loaded at start-up (Django, Channels, Twisted, and the URLconf with every view it
# imports, which Django would otherwise load at the first request: ~100,000 objects) lives as
# long as the process. A full collection would walk it all, ~65 ms during which no socket is
# served; frozen, collections walk only what was made since, and less often (`gc_tuning`).
get_resolver().url_patterns  # noqa: B018 - loading it is the point
gc_tuning.settle_heap()
