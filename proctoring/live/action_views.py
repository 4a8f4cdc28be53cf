"""The proctor's actions on an attempt, as small POST views (CSRF-checked): message, pause,
resume, extra time, flag, terminate, and a reviewer's verdict on the whole attempt.

Each one: staff login, a proctor of some exam (`proctor_required`, else 403), then a proctor of
this attempt's exam or a superuser (else 403, whether the attempt exists or not); its input
bounded (else 400); the state change through `exams.lifecycle` (a refused transition is a 409
with its reason); and an audit entry whatever the answer. A request that accepts JSON (the
grid's menu) gets JSON; a plain form is sent back to the page it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from exams import lifecycle
from exams.models import Attempt
from proctoring.live import actions, review
from proctoring.live.views import proctor_required
from proctoring.results import audit, authorization

Done = tuple[str, dict[str, Any]]  # what to tell the proctor, and the audit entry's detail


def attempt_or_403(request: HttpRequest, attempt_id: str) -> Attempt:
    attempt = authorization.attempt_of(request.user, attempt_id)
    if attempt is None:
        audit.record(request, audit.Action.REFUSED, ("attempt", str(attempt_id)), audit.Outcome.REFUSED)
        raise PermissionDenied("not an attempt of an exam you proctor")
    return attempt


def _act(
    request: HttpRequest, attempt_id: str, action: str, do: Callable[[Attempt, dict[str, str]], Done]
) -> HttpResponse:
    attempt = attempt_or_403(request, attempt_id)
    attempt = lifecycle.enforce_deadline(attempt)  # an overdue attempt times out, not pauses
    form = {key: request.POST.get(key, "") for key in request.POST}
    try:
        said, detail = do(attempt, form)
    except (actions.InvalidInput, review.InvalidReview) as exc:
        return _refused(request, attempt, action, 400, str(exc))
    except lifecycle.TransitionRefused as exc:
        return _refused(request, attempt, action, 409, str(exc))
    audit.record(request, action, attempt, **detail)
    attempt.refresh_from_db()
    if _wants_json(request):
        return JsonResponse({"ok": True, "said": said, **_attempt_state(attempt)})
    messages.success(request, said)
    return HttpResponseRedirect(_back(request, attempt))


@proctor_required
@require_POST
def message(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        sent = actions.send_message(attempt, request.user, form.get("body", ""))
        return "Message sent.", {"message": sent.pk, "body": sent.body}

    return _act(request, attempt_id, audit.Action.MESSAGE_SENT, do)


@proctor_required
@require_POST
def pause(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        done = actions.pause(attempt, request.user, form.get("reason", ""))
        return "Paused.", {"transition": done.transition.pk, "reason": done.transition.reason}

    return _act(request, attempt_id, audit.Action.ATTEMPT_PAUSED, do)


@proctor_required
@require_POST
def resume(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        done = actions.resume(attempt, request.user, form.get("reason", ""))
        return "Resumed.", {"transition": done.transition.pk, "reason": done.transition.reason}

    return _act(request, attempt_id, audit.Action.ATTEMPT_RESUMED, do)


@proctor_required
@require_POST
def extend(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        done = actions.extend(attempt, request.user, form.get("minutes", ""), form.get("reason", ""))
        minutes = done.transition.extra_seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''} added.", {
            "transition": done.transition.pk,
            "extra_seconds": done.transition.extra_seconds,
            "reason": done.transition.reason,
        }

    return _act(request, attempt_id, audit.Action.TIME_EXTENDED, do)


@proctor_required
@require_POST
def flag(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        incident = actions.flag(attempt, request.user, form.get("comment", ""))
        return "Flagged.", {"incident": incident.pk, "comment": incident.comment}

    return _act(request, attempt_id, audit.Action.ATTEMPT_FLAGGED, do)


@proctor_required
@require_POST
def terminate(request: HttpRequest, attempt_id: str) -> HttpResponse:
    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        done = actions.terminate(attempt, request.user, form.get("reason", ""))
        return "Terminated.", {"transition": done.transition.pk, "reason": done.transition.reason}

    return _act(request, attempt_id, audit.Action.ATTEMPT_TERMINATED, do)


@proctor_required
@require_POST
def review_attempt(request: HttpRequest, attempt_id: str) -> HttpResponse:
    """A reviewer's verdict; with `next` set, on to the next unreviewed attempt of the queue."""

    def do(attempt: Attempt, form: dict[str, str]) -> Done:
        verdict = review.mark_reviewed(
            attempt, request.user, form.get("outcome", ""), form.get("comment", "")
        )
        return f"Marked reviewed: {verdict.get_outcome_display()}.", {
            "review": verdict.pk,
            "verdict": verdict.outcome,  # not `outcome`: that is the entry's own (ok, refused, error)
            "comment": verdict.comment,
        }

    response = _act(request, attempt_id, audit.Action.ATTEMPT_REVIEWED, do)
    if response.status_code == 302 and request.POST.get("next"):
        attempt = authorization.attempt_of(request.user, attempt_id)
        assert attempt is not None  # `_act` answered 403 otherwise
        following = review.next_unreviewed(attempt.exam, after=attempt.pk)
        if following is None:
            messages.info(request, "Every attempt of this exam is reviewed.")
            return HttpResponseRedirect(reverse("proctor-review-queue", args=[attempt.exam.slug]))
        return HttpResponseRedirect(reverse("proctor-attempt", args=[following.pk]))
    return response


def _attempt_state(attempt: Attempt) -> dict[str, Any]:
    seconds = attempt.seconds_left(timezone.now())
    return {
        "status": attempt.status,
        "status_label": attempt.get_status_display(),
        "seconds_left": None if seconds is None else int(seconds),
        "extra_seconds": attempt.extra_seconds,
    }


def _refused(request: HttpRequest, attempt: Attempt, action: str, status: int, reason: str) -> HttpResponse:
    audit.record(request, action, attempt, audit.Outcome.ERROR, error=reason)
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": reason, **_attempt_state(attempt)}, status=status)
    context = {"attempt": attempt, "reason": reason, "back": _back(request, attempt), "title": "Not done"}
    return render(request, "proctor/refused.html", context, status=status)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, attempt: Attempt) -> str:
    """The page the form was on (`next`, a path of this site's proctor pages), else the timeline."""
    back = request.POST.get("back", "")
    if back.startswith("/proctor/") and url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        return back
    return reverse("proctor-attempt", args=[attempt.pk])
