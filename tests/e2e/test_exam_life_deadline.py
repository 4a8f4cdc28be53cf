"""The server's clock ends an exam whose candidate closed the browser: answers saved before are
scored, and the candidate, back later, sees that the time ran out."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exams import lifecycle
from exams.models import Attempt, Exam, Question
from tests.e2e.conftest import TAKER
from tests.e2e.pages import log_in
from tests.e2e.test_exam_life_candidate import begin, questions, saved  # noqa: F401 - a fixture
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_short_exam_is_submitted_by_the_server_with_the_browser_closed(
    user: Any,
    exam: Exam,
    questions: dict[str, Question],  # noqa: F811
    open_page: Any,
    start_gateway: Any,
    start_background_worker: Any,
) -> None:
    start_background_worker()
    gateway = start_gateway()
    page = open_page()
    attempt = begin(page, gateway.url, exam)
    page.get_by_role("group", name=re.compile("What is 2 \\+ 2")).get_by_label("4").check()
    saved(page, 1)
    page.context.close()  # the candidate is gone: no page will look at the attempt again

    # Three seconds left; the extra second is a proctor's action, which schedules the deadline job.
    assert attempt.consented_at is not None
    elapsed = (timezone.now() - attempt.consented_at).total_seconds()
    Attempt.objects.filter(pk=attempt.pk).update(time_limit_seconds=int(elapsed) + 2)
    lifecycle.apply(Attempt.objects.get(pk=attempt.pk), lifecycle.Action.EXTEND, extra_seconds=1)
    ended = wait_until(
        lambda: Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.TIMED_OUT).first(),
        30,
        "the time-out",
    )
    assert (ended.score, ended.max_score) == (1, 3)
    [last] = ended.transitions.filter(action=lifecycle.Action.TIME_OUT)
    assert last.by is None  # the server's clock, not a person or a page

    back = open_page()
    log_in(back, f"{gateway.url}/attempts/{attempt.pk}/", *TAKER)
    outcome = back.get_by_role("region", name="Your exam has ended")
    expect(outcome).to_contain_text("The time ran out")
    expect(outcome).to_contain_text("1 of 3 points")
