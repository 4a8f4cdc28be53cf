"""The admin's queue pages in Chromium, as staff use them: the overview's counts, the per-client
rows, a failed job with its traceback, and "retry" putting it back in the queue (seen while the
workers are paused from the same pages, then delivered once they resume), with a real gateway,
worker and a recording API that refuses the first frame."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from rq.registry import FailedJobRegistry

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue, policy
from tests.e2e.conftest import PROCTOR
from tests.e2e.pages import log_in, screenshot
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OVERVIEW = "/admin/proctoring/queue/"


def figure(name: str) -> str:
    return f'[data-figure="{name}"]'


def deliveries(api: RecordingApi, job_id: str) -> int:
    return sum(1 for call in list(api.calls) if call.headers.get("Idempotency-Key") == job_id)


def test_staff_see_counts_clients_and_a_failed_job_with_its_traceback_and_retry_it(
    user, exam, proctor, api, settings, open_page, start_gateway, start_page_worker
):
    # An outage, failed at its one attempt: a frame the API refused keeps no image to retry.
    settings.PROCTORING_JOB_ATTEMPTS = 1
    api.script(Reply(503, {"error": "unavailable in the test"}), Reply())
    gateway = start_gateway()
    start_page_worker(PROCTORING_JOB_ATTEMPTS="1")
    attempt = Attempt.objects.create(user=user, exam=exam, consented_at=timezone.now())
    client = str(attempt.pk)
    frame = parse_image(jpeg_bytes(), settings.PROCTORING_MAX_FRAME_BYTES)
    failed = enqueue.enqueue_frame(client, client, 1, frame)
    registry = FailedJobRegistry(queue=policy.get_queue())
    wait_until(lambda: failed in registry.get_job_ids(cleanup=False), 20, "the first frame failed")
    for seq in (2, 3):
        enqueue.enqueue_frame(client, client, seq, frame)
    wait_until(lambda: len(api.calls) == 3, 20, "two more frames delivered")

    page = open_page(viewport={"width": 1280, "height": 900})
    log_in(page, gateway.url + OVERVIEW, *PROCTOR)
    expect(page.locator(figure("failed"))).to_have_text("1")
    expect(page.locator(figure("queued"))).to_have_text("0")
    expect(page.locator("#workers tbody tr")).to_have_count(1)
    # Once the page's own refresh has run: moments to the second, durations in ms below one.
    expect(page.locator(figure("generated_at"))).not_to_have_text("now")
    expect(page.locator("#workers tbody tr td").last).to_have_text(  # the last heartbeat
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
    )
    for name in ("run_p95_s", "wait_p95_s"):
        expect(page.locator(figure(name))).to_have_text(re.compile(r"^(–|\d+(\.\d)? ms|\d+\.\d s)$"))
    screenshot(page, "admin-queue-overview-failed")

    page.get_by_role("link", name="Per client").click()
    row = page.locator("#clients tbody tr").filter(has_text=client)
    expect(row).to_contain_text(user.username)
    expect(row).to_contain_text(exam.slug)
    expect(row.locator("td").nth(6)).to_have_text("1")  # failed
    expect(row.locator("td").nth(7)).to_have_text("2")  # completed today
    screenshot(page, "admin-queue-clients")

    page.get_by_role("link", name="Failed jobs").click()
    row = page.locator(f'#failed tr[data-job-id="{failed}"]')
    expect(row).to_contain_text("503")
    expect(row).to_contain_text("unavailable in the test")
    # The API's body reads as text, not one word per line in a squeezed column.
    body = row.locator("td.failed-body")
    lines = body.evaluate(
        """cell => {
          const range = document.createRange();
          range.selectNodeContents(cell);
          return range.getBoundingClientRect().height / parseFloat(getComputedStyle(cell).lineHeight);
        }"""
    )
    assert lines < 3.5, f"the API body wraps over {lines:.1f} lines: {body.inner_text()!r}"
    row.get_by_role("link", name=failed).click()
    traceback = page.locator("pre.traceback")
    expect(traceback).to_contain_text("Traceback (most recent call last)")
    expect(traceback).to_contain_text("ApiUnavailable")
    screenshot(page, "admin-queue-failed-job")
    job_page = page.url

    # Paused workers take nothing: the retried job is seen back in the queue.
    page.goto(gateway.url + OVERVIEW)
    page.get_by_role("button", name="Pause workers").click()
    expect(page.get_by_text("Workers are paused")).to_have_count(2)  # the message and the banner
    page.goto(job_page)
    page.get_by_role("button", name="Retry this job").click()
    expect(page.locator("#job-meta")).to_contain_text("queued")
    page.goto(gateway.url + OVERVIEW)
    expect(page.locator(figure("queued"))).to_have_text("1")
    expect(page.locator(figure("failed"))).to_have_text("0")

    page.get_by_role("button", name="Resume workers").click()
    wait_until(lambda: deliveries(api, failed) == 2, 20, "the retried job delivered, same idempotency key")
    expect(page.locator(figure("queued"))).to_have_text("0")
    expect(page.get_by_role("button", name="Pause workers")).to_be_visible()
    screenshot(page, "admin-queue-overview")
    page.goto(job_page)
    expect(page.locator("#job-meta")).to_contain_text("delivered")
