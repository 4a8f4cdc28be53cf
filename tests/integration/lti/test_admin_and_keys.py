"""The admin's LTI pages and the tool's keys: registering a platform shows the URLs to give it,
adding a tool key rotates the JWKS, and the published keys verify what the tool signs."""

from __future__ import annotations

import json

import jwt
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from exams.models import Exam
from proctoring.lti import tool_keys
from proctoring.lti.models import Platform, ResourceLink, ToolKey


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def test_the_admin_registers_a_platform_and_shows_the_tools_urls(admin_client: Client) -> None:
    exam = Exam.objects.create(slug="algebra", title="Algebra")
    add = reverse("admin:lti_platform_add")
    page = admin_client.get(add).content.decode()
    assert "/lti/login/" in page and "/lti/launch/" in page and "/lti/jwks/" in page

    response = admin_client.post(
        add,
        {
            "name": "Moodle",
            "issuer": "https://moodle.example.edu",
            "client_id": "abc",
            "deployment_ids": "1\r\n2",
            "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
            "auth_token_url": "",
            "key_set_url": "https://moodle.example.edu/mod/lti/certs.php",
            "exams": [exam.pk],
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    platform = Platform.objects.get()
    assert platform.deployments() == ["1", "2"] and platform.reaches(exam)
    assert not platform.reaches(Exam.objects.create(slug="history", title="History"))
    assert admin_client.get(reverse("admin:lti_platform_changelist")).status_code == 200


def test_the_admin_links_a_resource_link_to_an_exam(admin_client: Client) -> None:
    exam = Exam.objects.create(slug="algebra", title="Algebra")
    platform = Platform.objects.create(
        name="Canvas",
        issuer="https://canvas.instructure.com",
        client_id="1000",
        deployment_ids="d",
        auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        key_set_url="https://sso.canvaslms.com/api/lti/security/jwks",
    )

    response = admin_client.post(
        reverse("admin:lti_resourcelink_add"),
        {"platform": platform.pk, "resource_link_id": "link-42", "exam": exam.pk},
    )

    assert response.status_code == 302
    assert ResourceLink.objects.get().exam == exam


def test_adding_a_tool_key_in_the_admin_rotates_the_published_keys(admin_client: Client) -> None:
    first = tool_keys.current()

    response = admin_client.post(reverse("admin:lti_toolkey_add"), {})

    assert response.status_code == 302
    newest = tool_keys.current()
    assert newest != first and ToolKey.objects.count() == 2
    kids = [key["kid"] for key in Client().get("/lti/jwks/").json()["keys"]]
    assert sorted(kids) == sorted([first.kid, newest.kid])
    page = admin_client.get(reverse("admin:lti_toolkey_change", args=[newest.pk])).content.decode()
    assert "PRIVATE KEY" not in page


def test_the_published_key_verifies_what_the_tool_signs(db: None) -> None:
    key = tool_keys.current()
    token = jwt.encode({"iss": "tool"}, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    (published,) = Client().get("/lti/jwks/").json()["keys"]

    assert published["kid"] == key.kid
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(published))
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"iss": "tool"}  # type: ignore[arg-type]
