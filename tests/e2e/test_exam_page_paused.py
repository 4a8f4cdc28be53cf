"""The exam page in Chromium while an operator has paused the workers: its frames are acked
`paused` and kept, then refused `rate_limited` once its pending frames are at the cap. The page
stays calm and truthful (no "refused", no error code, the pause explained) and, once the workers
resume, says nothing more while the frames kept are delivered."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from rq.suspension import resume, suspend

from proctoring.queue import policy
from tests.e2e.conftest import TAKER
from tests.e2e.pages import count, screenshot, take_exam, wait_for_count
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PENDING_CAP = 3
PAUSED_NOTE = (
    "Proctoring is paused for a moment. The pictures already sent are kept and will be checked"
    " when it resumes; nothing for you to do."
)


def test_a_paused_queue_leaves_the_exam_page_calm_and_its_frames_are_delivered_after(
    user, exam, api, open_page, start_gateway, start_page_worker
):
    connection = policy.get_queue().connection
    suspend(connection)
    gateway = start_gateway(PROCTORING_MAX_PENDING_PER_CLIENT=str(PENDING_CAP))
    page = open_page(watch_socket=True)
    attempt_id = take_exam(page, gateway.url, *TAKER, exam.title)
    expect(page.locator("#conn-state")).to_have_text("connected")
    page.wait_for_function(
        "() => window.cameraSocket.replies.filter(r => r.code === 'rate_limited').length >= 2", timeout=20_000
    )

    status = page.locator("#camera")
    expect(page.locator("#last-error")).to_have_text(PAUSED_NOTE)
    assert count(page, "refused") == 0
    assert count(page, "acked") == PENDING_CAP
    for alarming in ("rate_limited", re.compile(r"Frame \d+ refused")):
        expect(status).not_to_contain_text(alarming)
    expect(page.locator("#conn-state")).to_have_text("connected")
    screenshot(page, "exam-page-paused")

    resume(connection)
    start_page_worker()
    wait_for_count(page, "acked", PENDING_CAP + 2, timeout_ms=20_000)
    expect(page.locator("#last-error")).to_have_text("")

    def seqs_delivered() -> set[int]:
        return {int(c.fields["seq"]) for c in list(api.calls) if c.fields.get("client_id") == attempt_id}

    # The frames acked during the pause (the connection's first three) were kept and delivered.
    wait_until(lambda: {1, 2, 3} <= seqs_delivered(), 20, "the frames acked during the pause delivered")
    assert count(page, "refused") == 0
