"""The admin's actions on failed jobs: retry or delete the checked ones, one, a client's, or
those failed over N hours ago (`proctoring.ops.failed_jobs` does the acting, on the job's shard).
Each is recorded in the audit log with what it named and what it did."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from proctoring.ops import failed_jobs, locate
from proctoring.ops.admin.failed import failed_ids, newest, summarize
from proctoring.queue import policy
from proctoring.results import audit
from proctoring.store import keys, shards

Outcome = tuple[int, int]  # jobs acted on, jobs skipped as no longer failed


class ActionError(ValueError):
    """A request the actions cannot carry out; its text is shown to the operator."""


def apply_all(operation: Callable[[str], bool], job_ids: Iterable[str]) -> Outcome:
    results = [operation(job_id) for job_id in dict.fromkeys(job_ids)]
    return sum(results), len(results) - sum(results)


def run_action(post: QueryDict) -> tuple[str, Outcome]:
    """Carries out a posted action; returns its past-tense verb and outcome.

    action=retry|delete acts on the checked `job_id`s, retry:<id>|delete:<id> on one job,
    retry-client on every failed job of `client`, clean on those failed over `hours` ago.
    """
    verb, _, one = post.get("action", "").partition(":")
    if verb in ("retry", "delete"):
        job_ids = [one] if one else post.getlist("job_id")
        if not job_ids:
            raise ActionError("Select at least one failed job.")
        operation = _on_its_shard(failed_jobs.retry if verb == "retry" else failed_jobs.delete)
        return ("Retried" if verb == "retry" else "Deleted"), apply_all(operation, job_ids)
    if verb == "retry-client":
        client = post.get("client", "").strip()
        if not client:
            raise ActionError("Give the client whose failed jobs to retry.")
        with shards.client_shard(client):  # all of a client's jobs are on its shard
            mine = newest(policy.get_queue().connection, keys.client_failed(client))
            if not mine:
                raise ActionError(
                    f"Client {client!r} has no failed job to retry: no such client, or none of its"
                    " frames is in the failed list now. Nothing was retried."
                )
            return "Retried", apply_all(failed_jobs.retry, mine)
    if verb == "clean":
        cutoff = datetime.now(UTC) - timedelta(hours=parse_hours(post.get("hours", "")))
        done, missed = 0, 0
        for _ in shards.each():
            old = [
                s.job_id for s in summarize(failed_ids()) if s.failed_at is not None and s.failed_at < cutoff
            ]
            outcome = apply_all(failed_jobs.delete, old)
            done, missed = done + outcome[0], missed + outcome[1]
        return "Deleted", (done, missed)
    raise ActionError(f"Unknown action {post.get('action', '')!r}.")


def audit_entry(post: QueryDict) -> tuple[str, tuple[str, str], dict[str, Any]] | None:
    """What a posted action is, for the audit log: its kind, its target and the ids it names
    (None for an unknown action, which does nothing)."""
    verb, _, one = post.get("action", "").partition(":")
    if verb in ("retry", "delete"):
        ids = [one] if one else post.getlist("job_id")
        action = audit.Action.JOB_RETRIED if verb == "retry" else audit.Action.JOB_DELETED
        target = ("job", ids[0]) if len(ids) == 1 else ("jobs", f"{len(ids)} selected")
        return action, target, {"job_ids": ids[:100]}
    if verb == "retry-client":
        return audit.Action.JOB_RETRIED, ("client", post.get("client", "").strip()), {}
    if verb == "clean":
        return audit.Action.FAILED_CLEANED, ("failed", "older than"), {"hours": post.get("hours", "")}
    return None


def _on_its_shard(operation: Callable[[str], bool]) -> Callable[[str], bool]:
    """`operation` on a job id, run on the shard that holds the job."""

    def run(job_id: str) -> bool:
        with shards.using(locate.shard_of_job(job_id)):
            return operation(job_id)

    return run


def parse_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        raise ActionError(f"Hours must be a number, not {text!r}.") from None
    if not 0 <= hours < 1e6:
        raise ActionError("Hours must be between 0 and 1,000,000.")
    return hours


def outcome_message(verb: str, outcome: Outcome) -> str:
    done, skipped = outcome
    text = f"{verb} {done} failed job{'s' if done != 1 else ''}."
    if skipped:
        text += f" {skipped} skipped: no longer failed (already retried, deleted or expired)."
    return text


@require_POST
def failed_action(request: HttpRequest) -> HttpResponseRedirect:
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = reverse("proctoring-queue-failed")
    entry = audit_entry(request.POST)
    try:
        verb, outcome = run_action(request.POST)
    except ActionError as exc:
        if entry is not None:
            action, target, detail = entry
            audit.record(request, action, target, audit.Outcome.ERROR, error=str(exc), **detail)
        messages.error(request, str(exc))
    else:
        if entry is not None:
            action, target, detail = entry
            audit.record(request, action, target, done=outcome[0], skipped=outcome[1], **detail)
        report = messages.success if outcome[0] else messages.warning
        report(request, outcome_message(verb, outcome))
    return HttpResponseRedirect(back)
