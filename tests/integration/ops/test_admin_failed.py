"""The admin's failed jobs list (proctoring/ops/admin/failed.py), its actions (admin_failed_actions.py)
and a job's detail page (proctoring/ops/admin/job.py), on the real Redis, with failures made by a real
worker against the recording API.

Here the tests that need no process;
the others are in tests/processes/ops/test_admin_failed.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from rq.job import Job

from exams.models import Attempt
from proctoring.core.frames import FrameMeta, parse_image
from proctoring.ops.admin import failed as admin_failed
from proctoring.ops.admin import failed_actions as admin_failed_actions
from proctoring.queue import enqueue as enqueuing
from proctoring.queue import policy
from proctoring.results import writer
from tests.admin_pages import ACTION, FAILED, frame_url, job_url, page, post
from tests.roles import operator
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

FRAME = jpeg_bytes(64, 48, (200, 40, 40))


def enqueue(client_id: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client_id, client_id, seq, parse_image(FRAME, 1 << 20))


@pytest.mark.parametrize(
    "method, url",
    [("get", FAILED), ("get", job_url("0" * 32)), ("get", frame_url("0" * 32)), ("post", ACTION)],
)
def test_anonymous_and_non_staff_are_sent_to_the_admin_login(
    client: Client, user: Any, method: str, url: str
) -> None:
    for who in (None, user):  # nobody, then an exam taker
        if who is not None:
            client.force_login(who)
        response = getattr(client, method)(url, {"action": "clean", "hours": "0"} if method == "post" else {})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_actions_need_post_and_a_csrf_token() -> None:
    staff = operator("ops")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.get(ACTION).status_code == 405
    assert strict.post(ACTION, {"action": "clean", "hours": "0"}).status_code == 403


@pytest.mark.parametrize(
    "error, kind",
    [
        ("ApiRejected: API answered 422: {}", "ApiRejected"),
        ("AbandonedJobError: ", "AbandonedJobError"),
        ("Moved to FailedJobRegistry, due to AbandonedJobError, at 2026-01-01", "AbandonedJobError"),
        (
            'Traceback (most recent call last):\n  File "x.py", line 1, in f\n    raise X\n'
            "rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (40 seconds)\n",
            "JobTimeoutException",
        ),
        ("", admin_failed.UNKNOWN),
        (None, admin_failed.UNKNOWN),
        ("  something odd happened", admin_failed.UNKNOWN),
    ],
)
def test_error_kind_names_the_exception_class(error: str | None, kind: str) -> None:
    assert admin_failed.error_kind(error) == kind


def test_outcome_message_and_hours() -> None:
    assert admin_failed_actions.outcome_message("Retried", (1, 0)) == "Retried 1 failed job."
    deleted = admin_failed_actions.outcome_message("Deleted", (0, 2))
    assert deleted.startswith("Deleted 0 failed jobs. 2 skipped")
    assert admin_failed_actions.parse_hours("1.5") == 1.5
    for bad in ("", "x", "-1", "nan", "inf"):
        with pytest.raises(admin_failed_actions.ActionError):
            admin_failed_actions.parse_hours(bad)


def test_empty_list_unknown_job_and_refused_actions(staff_client: Client, attempt: Attempt) -> None:
    assert "No failed job." in page(staff_client, FAILED)
    queued = enqueue(str(attempt.pk), 1)  # a job that exists but never failed
    assert staff_client.get(job_url("f" * 32)).status_code == 404
    assert staff_client.get(job_url("no:such")).status_code == 404
    assert staff_client.get(frame_url("f" * 32)).status_code == 404
    detail = page(staff_client, job_url(queued))
    assert "Retry this job" not in detail and frame_url(queued) in detail
    assert post(staff_client, action="retry") == ["Select at least one failed job."]
    assert post(staff_client, action="clean", hours="soon") == ["Hours must be a number, not 'soon'."]
    assert post(staff_client, action="retry-client", client=" ") == [
        "Give the client whose failed jobs to retry."
    ]
    assert post(staff_client, action="explode")[0].startswith("Unknown action")
    # A job that is not failed is skipped, and an outside `next` is not followed.
    response = staff_client.post(ACTION, {"action": f"retry:{queued}", "next": "https://evil.example/"})
    assert response["Location"] == FAILED
    assert [str(m) for m in staff_client.get(FAILED).context["messages"]] == [
        "Retried 0 failed jobs. 1 skipped: no longer failed (already retried, deleted or expired)."
    ]
    assert Job.fetch(queued, connection=policy.get_queue().connection).get_status() == "queued"


def test_retrying_all_of_an_unknown_client_says_nothing_was_retried(staff_client: Client) -> None:
    assert post(staff_client, action="retry-client", client="no-such-client") == [
        "Client 'no-such-client' has no failed job to retry: no such client, or none of its frames is"
        " in the failed list now. Nothing was retried."
    ]


def test_a_delivered_jobs_page_shows_what_it_has_and_no_tab_of_a_list_it_is_not_in(
    staff_client: Client, attempt: Attempt
) -> None:
    meta = FrameMeta(
        client_id=str(attempt.pk), attempt_id=str(attempt.pk), seq=7,
        captured_at=datetime(2026, 12, 2, 13, 0, 0, 123456, tzinfo=UTC),
        received_at=datetime(2026, 12, 2, 13, 0, 0, 234567, tzinfo=UTC), content_type="image/jpeg",
    )  # fmt: skip
    writer.store_result(meta, "d" * 32, {"flags": []}, FRAME).result(timeout=30)
    html = page(staff_client, job_url("d" * 32))
    assert "failed for good" not in html and "<td>–</td>" not in html
    assert "2026-12-02 13:00:00.123" in html and "2026-12-02 13:00:00.234" in html
    assert ".123456" not in html and "Answer stored" in html
    assert 'class="current"' not in html.split('<nav class="queue-tabs">')[1].split("</nav>")[0]


def test_a_job_waiting_to_retry_is_called_so_on_its_page_as_on_the_overview(
    staff_client: Client, attempt: Attempt
) -> None:
    client_id = str(attempt.pk)
    job_id = enqueuing.enqueue_frame(client_id, client_id, 1, parse_image(FRAME, 1 << 20), delay=60)
    html = page(staff_client, job_url(job_id))
    assert "<td>waiting to retry" in html and "<td>scheduled" not in html
    assert "failed for good" not in html
    queued = page(staff_client, job_url(enqueue(client_id, 2)))
    tabs = queued.split('<nav class="queue-tabs">')[1].split("</nav>")[0]
    assert 'class="current">Waiting<' in tabs and 'class="current">Failed' not in tabs
