"""Test frames: `manage.py proctoring_test_job` and the admin's "Send a test frame", through a
real queue, a real worker and a recording API.

Here the tests that start real processes;
the others are in tests/integration/ops/test_selftest.py."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from proctoring.models import FrameResult
from proctoring.ops import selftest
from tests.support import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("proctoring_test_job", "--json", *args, stdout=out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


@pytest.mark.slow
def test_the_command_reports_the_job_id_and_the_apis_answer(api, start_worker):
    api.script(Reply(200, {"faces": 1, "flags": []}))
    start_worker()
    report = run()
    assert report["state"] == "delivered"
    assert report["result"] == {"faces": 1, "flags": []}
    [call] = api.calls
    assert call.headers["Idempotency-Key"] == report["job_id"]
    row = FrameResult.objects.get(job_id=report["job_id"])
    assert str(row.attempt_id) == report["client_id"] == selftest.selftest_attempt().client_id


@pytest.mark.slow
def test_a_failed_test_frame_reports_the_error_and_exits_non_zero(api, settings, start_worker):
    api.script(Reply(400, {"error": "bad_seq"}))
    start_worker()
    out = io.StringIO()
    with pytest.raises(CommandError, match="not delivered: failed"):
        call_command("proctoring_test_job", stdout=out)
    assert "failed: ApiRejected: API answered 400" in out.getvalue()


@pytest.mark.slow
def test_a_delivered_jobs_page_shows_its_answer_after_the_job_is_gone(staff_client, api, start_worker):
    api.script(Reply(200, {"faces": 2, "flags": ["multiple_faces"]}))
    response = staff_client.post("/admin/proctoring/queue/test-frame/")
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    start_worker()
    assert selftest.wait_for_outcome(job_id, 30).state == "delivered"
    page = staff_client.get(response["Location"]).content.decode()
    assert "<th>Status</th><td>delivered" in page and "multiple_faces" in page
    assert 'http-equiv="refresh"' not in page
