"""`POST /reference-api/v1/analyze`: validates its input like a real service and answers JSON."""

from __future__ import annotations

import hashlib
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

# Answers by caller and Idempotency-Key, so that a retried request gets the first answer again. Each
# answer is kept with its request's fingerprint: the same key with another request (someone who
# learnt a job id, or a client's bug) is a 422, never someone else's answer.
_answers: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()
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
    image = upload.read()
    idempotency_key = request.headers.get("Idempotency-Key", "")
    remembered = (_caller(request), idempotency_key)
    fingerprint = _fingerprint(request, image)
    if idempotency_key:
        with _answers_lock:
            earlier = _answers.get(remembered)
        if earlier is not None:
            if not hmac.compare_digest(earlier[0], fingerprint):
                return _problem(
                    422, "idempotency_key_reused", "this Idempotency-Key was used for another request"
                )
            return JsonResponse({**earlier[1], "replayed": True})
    try:
        facts = analyze(image, settings.REFERENCE_API_MAX_PIXELS)
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
            _answers[remembered] = (fingerprint, answer)
            while len(_answers) > _REMEMBERED:
                _answers.popitem(last=False)
    return JsonResponse(answer)


def _caller(request: HttpRequest) -> str:
    """Who asks: their credentials, hashed (the same for every caller when the API has no key)."""
    return hashlib.sha256(request.headers.get("Authorization", "").encode()).hexdigest()


def _fingerprint(request: HttpRequest, image: bytes) -> str:
    digest = hashlib.sha256(image)
    for name in REQUIRED_FIELDS:
        digest.update(b"\0" + request.POST[name].encode())
    return digest.hexdigest()
