"""Test frames: `manage.py proctoring_test_job` and the admin's "Send a test frame", through a
real queue, a real worker and a recording API.

Here the tests that need no process;
the others are in tests/processes/ops/test_selftest.py."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rq.registry import ScheduledJobRegistry

from exams.models import Attempt
from proctoring.ops import selftest
from proctoring.queue import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("proctoring_test_job", "--json", *args, stdout=out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def test_the_test_client_is_an_attempt_no_one_can_log_in_as(db):
    attempt = selftest.selftest_attempt()
    assert not attempt.user.is_active and not attempt.user.has_usable_password()
    assert not attempt.exam.is_active
    assert selftest.selftest_attempt() == attempt, "the same open attempt is used again"


def test_without_a_worker_the_command_says_so_after_its_wait(db):
    out = io.StringIO()
    with pytest.raises(CommandError, match="is a worker running"):
        call_command("proctoring_test_job", "--wait", "0.3", stdout=out)
    assert "queued test frame: job " in out.getvalue()


def test_no_wait_prints_the_job_id_and_leaves_the_frame_queued(redis_conn):
    report = run("--wait", "0", "--priority")
    assert report["state"] == "queued"
    assert redis_conn.lrange("rq:queue:proctoring", 0, -1) == [report["job_id"].encode()]
    assert redis_conn.hget(f"rq:job:{report['job_id']}", "pri") == b"1"


def test_a_delayed_test_frame_is_scheduled(redis_conn):
    report = run("--wait", "0", "--delay", "60")
    assert report["state"] == "scheduled"
    assert ScheduledJobRegistry("proctoring", connection=redis_conn).get_job_ids() == [report["job_id"]]


def test_a_bad_delay_is_a_command_error(db):
    with pytest.raises(CommandError, match="delay must be between"):
        call_command("proctoring_test_job", "--delay", "-5", stdout=io.StringIO())


def test_only_staff_may_send_a_test_frame(client: Client, user: Any, redis_conn) -> None:
    for who in (None, user):
        if who:
            client.force_login(who)
        response = client.post("/admin/proctoring/queue/test-frame/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert redis_conn.llen("rq:queue:proctoring") == 0
    assert not Attempt.objects.filter(user__username=selftest.TEST_USERNAME).exists()


def test_staff_send_a_test_frame_and_follow_it_on_its_job_page(staff_client: Client, redis_conn) -> None:
    assert staff_client.get("/admin/proctoring/queue/test-frame/").status_code == 405
    response = staff_client.post("/admin/proctoring/queue/test-frame/", {"priority": "1"})
    assert response.status_code == 302
    [job_id] = [item.decode() for item in redis_conn.lrange("rq:queue:proctoring", 0, -1)]
    assert response["Location"] == f"/admin/proctoring/queue/jobs/{job_id}/"
    page = staff_client.get(response["Location"]).content.decode()
    assert f"Test frame queued as job {job_id}" in page
    assert "<th>Status</th><td>queued" in page
    assert 'http-equiv="refresh"' in page, "it refreshes until done"


def test_an_unknown_job_is_still_a_404(staff_client: Client) -> None:
    assert staff_client.get(f"/admin/proctoring/queue/jobs/{'f' * 32}/").status_code == 404


def test_a_full_queue_is_reported_on_the_overview(staff_client: Client, settings) -> None:
    settings.PROCTORING_MAX_QUEUED = 1
    enqueue.enqueue_frame("someone", "someone", 1, queues_frame())
    response = staff_client.post("/admin/proctoring/queue/test-frame/", follow=True)
    assert "The test frame was not queued" in response.content.decode()


def queues_frame():
    from proctoring.core.frames import parse_image

    return parse_image(selftest.selftest_image(), 1 << 20)
