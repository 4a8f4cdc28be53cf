"""The queue pages keep themselves current in Chromium: the per-client page shows a new client's
frame without a reload, but not while the operator has ticked a box on the failed list (the
selection is kept); the overview opens with the last job events listed (issue 19, item 10)."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from rq.registry import FailedJobRegistry

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue, policy
from tests.e2e.conftest import PROCTOR
from tests.e2e.pages import log_in
from tests.support import Reply, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUEUE = "/admin/proctoring/queue/"


def test_lists_refresh_in_place_unless_in_use_and_the_overview_opens_with_the_last_events(
    user, exam, proctor, api, settings, open_page, start_gateway, start_page_worker
):
    settings.PROCTORING_JOB_ATTEMPTS = 1
    api.script(Reply(422, {"error": "refused in the test"}), Reply())
    gateway = start_gateway()
    start_page_worker(PROCTORING_JOB_ATTEMPTS="1")
    frame = parse_image(jpeg_bytes(), settings.PROCTORING_MAX_FRAME_BYTES)
    first = str(Attempt.objects.create(user=user, exam=exam, consented_at=timezone.now()).pk)
    failed = enqueue.enqueue_frame(first, first, 1, frame)
    registry = FailedJobRegistry(queue=policy.get_queue())
    wait_until(lambda: failed in registry.get_job_ids(cleanup=False), 20, "the first frame refused")

    page = open_page(viewport={"width": 1280, "height": 900})
    log_in(page, gateway.url + QUEUE, *PROCTOR)
    events = page.locator("#job-events tbody tr")
    expect(events.first).to_contain_text("failed")
    expect(events.first).to_contain_text(failed[:10])

    page.goto(gateway.url + QUEUE + "clients/")
    expect(page.locator("#clients tbody tr").filter(has_text=first)).to_have_count(1)
    second = str(Attempt.objects.create(user=proctor, exam=exam, consented_at=timezone.now()).pk)
    enqueue.enqueue_frame(second, second, 1, frame)
    expect(page.locator("#clients tbody tr").filter(has_text=second)).to_have_count(1, timeout=15_000)

    page.goto(gateway.url + QUEUE + "failed/")
    box = page.locator(f'#failed input[type="checkbox"][value="{failed}"]')
    box.check()
    api.script(Reply(422, {"error": "refused in the test"}))
    later = enqueue.enqueue_frame(second, second, 2, frame)
    wait_until(lambda: later in registry.get_job_ids(cleanup=False), 20, "a second frame refused")
    rounds = int(page.evaluate("document.getElementById('queue-page').dataset.rounds || '0'"))
    page.wait_for_function(
        f"Number(document.getElementById('queue-page').dataset.rounds || 0) > {rounds}", timeout=15_000
    )  # a refresh round came, and left the page alone
    expect(box).to_be_checked()
    expect(page.locator(f'#failed input[type="checkbox"][value="{later}"]')).to_have_count(0)
    box.uncheck()
    expect(page.locator(f'#failed input[type="checkbox"][value="{later}"]')).to_have_count(1, timeout=15_000)
