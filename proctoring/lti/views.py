"""The tool's LTI endpoints: the OIDC login initiation, the launch, and the tool's JWKS. The first
two are reached by the platform's cross-site requests, so they take no CSRF token: the state
cookie and the signed id_token are their proof."""

from __future__ import annotations

import logging

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from proctoring.lti import attempts, launches, tool_keys

log = logging.getLogger(__name__)

BACKEND = "django.contrib.auth.backends.ModelBackend"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    try:
        return launches.login_redirect(request, request.build_absolute_uri(reverse("lti:launch")))
    except launches.LaunchRefused as exc:
        return _refused(request, exc)


@csrf_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    try:
        verified = launches.verify(request)
        user, attempt = attempts.open_attempt(verified)
    except launches.LaunchRefused as exc:
        return _refused(request, exc)
    login(request, user, backend=BACKEND)
    log.info("LTI launch from %r: %s at attempt %s", verified.platform.name, user.username, attempt.pk)
    return redirect("exams:attempt", attempt_id=attempt.pk)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(tool_keys.jwks())


def _refused(request: HttpRequest, exc: launches.LaunchRefused) -> HttpResponse:
    log.info("LTI refused (%s): %s", exc.status, exc.message)
    return render(request, "lti/refused.html", {"reason": exc.message}, status=exc.status)
