"""An LTI 1.3 launch in Chromium, from a test platform on another site (`localhost`, the tool on
`127.0.0.1`: two sites over plain HTTP, as a developer's Moodle and tool may be): the learner
clicks the link, the browser goes through the tool's login, the platform's authentication page
and the form post back, and lands on the exam page logged in, with the attempt opened; clicking
the link again continues it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from exams.models import Attempt
from proctoring.lti.attempts import platform_slug
from tests.e2e.pages import screenshot
from tests.lti_platform import ISSUER, LmsPlatform

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def lms() -> Iterator[LmsPlatform]:
    server = LmsPlatform(host="localhost")
    yield server
    server.stop()


def test_a_learner_launched_from_another_site_lands_on_the_exam_page_and_a_relaunch_continues(
    exam, lms, open_page, start_gateway
):
    gateway = start_gateway()
    lms.tool_url = gateway.url
    lms.register(auth_login_url=f"{lms.url}/auth")
    page = open_page()

    page.goto(f"{lms.url}/start")

    expect(page).to_have_url(re.compile(r"/attempts/[0-9a-f-]{36}/$"), timeout=15_000)
    attempt = Attempt.objects.select_related("user__external").get()
    assert page.url == f"{gateway.url}/attempts/{attempt.pk}/"
    assert attempt.user.external.platform == platform_slug(ISSUER)
    expect(page.get_by_role("heading", name=exam.title)).to_be_visible()
    screenshot(page, "lti-launch-exam-page")

    page.goto(f"{lms.url}/start")

    expect(page).to_have_url(f"{gateway.url}/attempts/{attempt.pk}/", timeout=15_000)
    assert Attempt.objects.count() == 1
