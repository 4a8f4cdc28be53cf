"""The failed jobs list and a job's pages as a staff browser sees them: their addresses, a page's text,
an action posted and the messages it left."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

FAILED = reverse("proctoring-queue-failed")
ACTION = reverse("proctoring-queue-failed-action")


def job_url(job_id: str) -> str:
    return reverse("proctoring-queue-job", args=[job_id])


def frame_url(job_id: str) -> str:
    return reverse("proctoring-queue-job-frame", args=[job_id])


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def post(browser: Client, /, **data: Any) -> list[str]:
    """Posts an action, checks it redirects to `next`, and returns the messages it left (as the
    list page, which shows and so consumes them, shows them)."""
    response = browser.post(ACTION, {"next": FAILED, **data})
    assert response.status_code == 302 and response["Location"] == data.get("next", FAILED)
    return [str(message) for message in browser.get(FAILED).context["messages"]]
