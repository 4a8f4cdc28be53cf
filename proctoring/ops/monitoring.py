"""Machine-readable figures: Prometheus's /metrics and the JSON stats, for queue operators
(`proctoring.view_queue`) or a monitoring system holding PROCTORING_STATS_TOKEN. The token reads
aggregates only (`stats.aggregates`): a monitoring system needs no names, and a token is easier to
leak than a staff login."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from proctoring.ops import charts, stats
from proctoring.ops.collector import QueueCollector
from proctoring.results import authorization


def is_operator(request: HttpRequest) -> bool:
    return authorization.can_view_queue(getattr(request, "user", None))


def holds_token(request: HttpRequest) -> bool:
    """Whether the request carries `Authorization: Bearer <PROCTORING_STATS_TOKEN>`."""
    token = settings.PROCTORING_STATS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500 for
    # any caller who sends one). surrogatepass encodes every str, even a lone surrogate.
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), token.encode())


def allowed(request: HttpRequest) -> bool:
    return is_operator(request) or holds_token(request)


def _refused(request: HttpRequest) -> HttpResponse:
    if authorization.is_active_staff(getattr(request, "user", None)):
        return HttpResponse("the queue's view permission is needed\n", status=403, content_type="text/plain")
    response = HttpResponse("staff login or a bearer token required\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="proctoring"'
    return response


def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return _refused(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def stats_json(request: HttpRequest) -> HttpResponse:
    """Queue operators: `stats.snapshot`, client rows included; the token: `stats.aggregates`."""
    if is_operator(request):
        return snapshot_response(request, default_clients=100)
    if holds_token(request):
        return JsonResponse(stats.aggregates())
    return _refused(request)


def snapshot_response(request: HttpRequest, default_clients: int, chart: bool = False) -> JsonResponse:
    """`stats.snapshot` as JSON, with `?clients=N` client rows (and the chart's points)."""
    try:
        client_limit = max(0, int(request.GET.get("clients", str(default_clients))))
    except ValueError:
        return JsonResponse({"error": "clients must be a whole number"}, status=400)
    snapshot = stats.snapshot(client_limit=client_limit)
    if chart:
        snapshot["chart"] = charts.throughput_chart(snapshot["throughput"])
    return JsonResponse(snapshot)
