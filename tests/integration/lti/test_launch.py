"""An LTI 1.3 resource-link launch from a test platform: the OIDC login, the id_token verified
against the platform's JWKS (served over HTTP), the LMS user logged in and their attempt opened,
then continued by the next launch."""

from __future__ import annotations

from django.contrib.auth.models import Group, User

from exams.models import Attempt, Exam
from proctoring.lti.attempts import platform_slug
from proctoring.lti.models import Platform, ResourceLink
from proctoring.models import ExternalUser
from tests.integration.lti.conftest import LAUNCH_URL, Browser, launched
from tests.lti_platform import AUTH_URL, CLIENT_ID, ISSUER, LmsPlatform, new_key


def test_the_login_redirects_to_the_platform_with_state_nonce_client_id_and_login_hint(
    registered: Platform, browser: Browser
) -> None:
    params = browser.authenticate()

    assert params["client_id"] == CLIENT_ID
    assert params["login_hint"] == "login-hint-7"
    assert params["lti_message_hint"] == "message-hint-42"
    assert params["redirect_uri"] == LAUNCH_URL
    assert params["response_type"] == "id_token" and params["response_mode"] == "form_post"
    assert params["scope"] == "openid" and params["prompt"] == "none"
    assert params["state"] and len(params["nonce"]) >= 32
    # The state comes back in the launch and is held against this browser's cookie.
    assert browser.client.cookies[f"lti1p3-{params['state']}"].value == params["state"]


def test_a_get_login_is_answered_as_a_post(registered: Platform, browser: Browser) -> None:
    response = browser.client.get("/lti/login/", {"iss": ISSUER, "login_hint": "7", "client_id": CLIENT_ID})

    assert response.status_code == 302 and response["Location"].startswith(AUTH_URL + "?")


def test_a_launch_opens_an_attempt_for_the_lms_user_and_logs_them_in(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    # The exam's group is not asked: the platform's launch is the enrolment.
    exam.enrolled_group = Group.objects.create(name="algebra-takers")
    exam.save()

    response = launched(platform, browser)

    attempt = Attempt.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/attempts/{attempt.pk}/"
    assert attempt.exam == exam and attempt.status == Attempt.Status.STARTED
    link = ExternalUser.objects.get(user=attempt.user)
    assert (link.platform, link.external_id) == (platform_slug(ISSUER), "moodle-user-7")
    assert attempt.user.first_name == "Ada Lovelace" and not attempt.user.has_usable_password()
    assert platform.jwks_requests == 1  # the signature was checked with the served key set
    page = browser.client.get(response["Location"])
    assert page.status_code == 200 and page.context["attempt"] == attempt


def test_a_second_launch_continues_the_same_attempt(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    first = launched(platform, browser)
    again = launched(platform, Browser())

    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert Attempt.objects.count() == 1 and User.objects.filter(external__isnull=False).count() == 1


def test_users_of_two_issuers_with_one_sub_are_two_users(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    other = platform.register(name="Canvas", issuer="https://canvas.example.test")

    launched(platform, browser)
    launched(platform, Browser(), {"iss": other.issuer}, iss=other.issuer)

    users = {attempt.user for attempt in Attempt.objects.all()}
    assert len(users) == 2
    assert {user.external.platform for user in users} == {platform_slug(ISSUER), platform_slug(other.issuer)}


def test_a_resource_link_set_in_the_admin_wins_over_the_custom_parameter(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    history = Exam.objects.create(slug="history", title="History")
    ResourceLink.objects.create(platform=registered, resource_link_id="link-42", exam=history)

    launched(platform, browser)

    assert Attempt.objects.get().exam == history


def test_the_tool_publishes_its_public_key_set(db: None) -> None:
    response = Browser().client.get("/lti/jwks/")

    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key  # no private part
    assert Browser().client.get("/lti/jwks/").json()["keys"] == [key]  # made once, kept


def test_the_platforms_key_set_is_fetched_once_for_many_launches(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    for learner in ("learner-1", "learner-2", "learner-3"):
        assert launched(platform, Browser(), {"sub": learner}).status_code == 302

    assert platform.jwks_requests == 1 and Attempt.objects.count() == 3


def test_a_key_the_platform_rotates_in_is_fetched_at_once(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    launched(platform, browser, {"sub": "learner-1"})
    platform.key, platform.kid = new_key(), "platform-key-2"

    response = launched(platform, Browser(), {"sub": "learner-2"})

    assert response.status_code == 302 and platform.jwks_requests == 2
    assert Attempt.objects.count() == 2


def test_a_launched_learner_starts_no_other_exam_from_the_exam_list(
    platform: LmsPlatform, registered: Platform, browser: Browser, exam: Exam
) -> None:
    launched(platform, browser)
    history = Exam.objects.create(slug="history", title="History")

    listed = browser.client.get("/")
    started = browser.client.post(f"/exams/{history.slug}/start/")

    assert "started from your course" in listed.content.decode()
    assert started.status_code == 302 and started["Location"] == "/"
    assert list(Attempt.objects.values_list("exam__slug", flat=True)) == ["algebra"]
