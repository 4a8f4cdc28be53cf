"""Launches the tool refuses, each with a page that says why (4xx, never 500) and no user or
attempt made: a forged, misdirected, stale or replayed id_token, an unregistered platform or
deployment, a link to no exam, an exam that takes no attempt now, a teacher's launch."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from exams.models import Attempt, Exam
from proctoring.lti.models import Platform
from tests.integration.lti.conftest import Browser, launched
from tests.lti_platform import CLAIM, CLIENT_ID, INSTRUCTOR, LmsPlatform, new_key


def refused(response: Any, status: int, reason: str) -> None:
    assert response.status_code == status, response.content.decode()[:500]
    assert reason in response.content.decode()
    assert not Attempt.objects.exists()
    assert not User.objects.filter(external__isnull=False).exists()


@pytest.fixture(autouse=True)
def setup(registered: Platform, exam: Exam) -> None:
    pass


def test_a_token_signed_with_another_key_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    # Same kid as the platform's published key, another private key: only the signature tells.
    refused(launched(platform, browser, key=new_key()), 403, "Signature verification failed")


def test_a_token_for_another_tool_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(launched(platform, browser, {"aud": "another-tool"}), 403, "Registration not found")


def test_an_expired_token_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    now = int(time.time())
    refused(launched(platform, browser, {"iat": now - 600, "exp": now - 60}), 403, "Signature has expired")


def test_a_token_without_an_expiry_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(launched(platform, browser, {"exp": None}), 403, "exp")


def test_a_replayed_launch_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    auth = browser.authenticate()
    token = platform.id_token(platform.claims(auth["nonce"]))
    assert browser.launch(auth["state"], token).status_code == 302

    again = browser.launch(auth["state"], token)

    assert again.status_code == 403 and "Invalid Nonce" in again.content.decode()
    assert Attempt.objects.count() == 1


def test_a_nonce_the_tool_did_not_issue_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    auth = browser.authenticate()
    token = platform.id_token(platform.claims("a-nonce-of-the-attackers-choice"))
    refused(browser.launch(auth["state"], token), 403, "Invalid Nonce")


def test_a_launch_without_the_browsers_state_cookie_is_refused(
    platform: LmsPlatform, browser: Browser
) -> None:
    auth = browser.authenticate()
    token = platform.id_token(platform.claims(auth["nonce"]))
    elsewhere = Browser()
    elsewhere.client.cookies["lti1p3-session-id"] = browser.client.cookies["lti1p3-session-id"].value
    refused(elsewhere.launch(auth["state"], token), 403, "State not found")


def test_an_unregistered_deployment_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(
        launched(platform, browser, {CLAIM + "deployment_id": "deployment-9"}),
        403,
        "Unable to find deployment",
    )


def test_a_login_from_an_unknown_issuer_is_refused(browser: Browser) -> None:
    refused(browser.login(iss="https://unknown.example.test"), 400, "Could not find registration")


def test_a_login_from_a_deactivated_platform_is_refused(registered: Platform, browser: Browser) -> None:
    Platform.objects.filter(pk=registered.pk).update(is_active=False)
    refused(browser.login(), 400, "Could not find registration")


def test_a_token_from_an_unknown_issuer_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(
        launched(platform, browser, {"iss": "https://unknown.example.test"}), 403, "Registration not found"
    )


def test_a_launch_of_another_version_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(launched(platform, browser, {CLAIM + "version": "1.1"}), 403, "Incorrect version")


def test_a_deep_linking_launch_opens_no_exam(platform: LmsPlatform, browser: Browser) -> None:
    settings = {"accept_types": ["ltiResourceLink"], "accept_presentation_document_targets": ["window"]}
    changes = {
        CLAIM + "message_type": "LtiDeepLinkingRequest",
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": settings,
    }
    refused(launched(platform, browser, changes), 400, "only resource link launches")


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("not-a-jwt", 403, "JWT must contain 3 parts"),
        ("a.b.c", 403, "can&#x27;t be decoded"),
        (
            base64.urlsafe_b64encode(b'{"kid":"k","alg":"RS256"}').decode()
            + "."
            + base64.urlsafe_b64encode(json.dumps(["a list"]).encode()).decode()
            + ".sig",
            400,
            "malformed",
        ),
    ],
)
def test_a_malformed_id_token_is_refused(browser: Browser, token: str, status: int, reason: str) -> None:
    auth = browser.authenticate()
    refused(browser.launch(auth["state"], token), status, reason)


def test_a_link_to_no_exam_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    refused(launched(platform, browser, {CLAIM + "custom": None}), 404, "is not linked to an exam")


def test_a_link_to_an_exam_that_does_not_exist_is_refused(platform: LmsPlatform, browser: Browser) -> None:
    response = launched(platform, browser, {CLAIM + "custom": {"exam": "geometry"}})
    refused(response, 404, "which does not exist")


def test_an_exam_outside_the_platforms_scope_is_refused(
    platform: LmsPlatform, registered: Platform, browser: Browser
) -> None:
    Platform.objects.filter(pk=registered.pk).update(all_exams=False)
    refused(launched(platform, browser), 403, "is not open to Moodle")


def test_a_closed_exam_is_refused(platform: LmsPlatform, browser: Browser, exam: Exam) -> None:
    exam.closes_at = timezone.now() - timedelta(minutes=1)
    exam.save()
    response = launched(platform, browser)
    assert response.status_code == 409 and "closed at" in response.content.decode()
    assert not Attempt.objects.exists()


def test_a_used_up_attempt_is_not_restarted(platform: LmsPlatform, browser: Browser) -> None:
    launched(platform, browser)
    Attempt.objects.update(status=Attempt.Status.SUBMITTED, ended_at=timezone.now())

    response = launched(platform, Browser())

    assert response.status_code == 409 and "used your 1 attempt" in response.content.decode()
    assert Attempt.objects.count() == 1


def test_a_teachers_launch_starts_no_attempt(platform: LmsPlatform, browser: Browser) -> None:
    refused(launched(platform, browser, {CLAIM + "roles": [INSTRUCTOR]}), 403, "for learners")


def test_a_registration_with_another_client_id_is_not_used(
    platform: LmsPlatform, registered: Platform, browser: Browser
) -> None:
    Platform.objects.filter(pk=registered.pk).update(client_id="renamed")
    refused(browser.login(client_id=CLIENT_ID), 400, "Could not find registration")


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({CLAIM + "resource_link": "link-42"}, 400, "malformed"),
        ({CLAIM + "roles": "Learner"}, 403, "for learners"),
        ({"sub": {"id": 7}}, 403, "Subject must be a string"),
    ],
    ids=["resource-link-a-string", "roles-a-string", "sub-an-object"],
)
def test_a_signed_token_with_claims_of_the_wrong_type_is_refused_not_an_error(
    platform: LmsPlatform, browser: Browser, changes: dict[str, Any], status: int, reason: str
) -> None:
    refused(launched(platform, browser, changes), status, reason)
