"""`POST /reference-api/v1/analyze`: validates its input like a real service and answers JSON."""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from proctoring.reference_api.analysis import ImageTooLarge, NotAnImage, analyze

REQUIRED_FIELDS = ("client_id", "attempt_id", "seq", "captured_at")
_REMEMBERED = 10_000

# Answers by Idempotency-Key, so that a retried request gets the first answer again.
_answers: OrderedDict[str, dict[str, Any]] = OrderedDict()
_answers_lock = threading.Lock()


def _problem(status: int, error: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": error, "detail": detail}, status=status)


@csrf_exempt
@require_POST
def analyze_view(request: HttpRequest) -> JsonResponse:
    key = settings.REFERENCE_API_KEY
    if key:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            return _problem(401, "unauthorized", "send Authorization: Bearer <key>")
    upload = request.FILES.get("image")
    if upload is None:
        return _problem(400, "missing_image", "send the frame as multipart file field 'image'")
    missing = [name for name in REQUIRED_FIELDS if not request.POST.get(name)]
    if missing:
        return _problem(400, "missing_fields", f"missing form fields: {', '.join(missing)}")
    try:
        seq = int(request.POST["seq"])
    except ValueError:
        return _problem(400, "bad_seq", f"seq must be a whole number, got {request.POST['seq']!r}")
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if idempotency_key:
        with _answers_lock:
            earlier = _answers.get(idempotency_key)
        if earlier is not None:
            return JsonResponse({**earlier, "replayed": True})
    try:
        facts = analyze(upload.read(), settings.REFERENCE_API_MAX_PIXELS)
    except NotAnImage as exc:
        return _problem(400, "not_an_image", str(exc))
    except ImageTooLarge as exc:
        return _problem(413, "image_too_large", str(exc))
    answer = {
        **facts,
        "client_id": request.POST["client_id"],
        "attempt_id": request.POST["attempt_id"],
        "seq": seq,
        "captured_at": request.POST["captured_at"],
        "replayed": False,
    }
    if idempotency_key:
        with _answers_lock:
            _answers[idempotency_key] = answer
            while len(_answers) > _REMEMBERED:
                _answers.popitem(last=False)
    return JsonResponse(answer)
