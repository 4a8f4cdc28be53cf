"""Exam pages: logging in, the list of open exams, starting an attempt and the attempt page's camera setup."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from exams.models import Attempt, Exam
from proctoring.core import protocol

pytestmark = pytest.mark.django_db

ATTEMPT_PATH = re.compile(r"^/attempts/([0-9a-f-]{36})/$")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class PageAssets(HTMLParser):
    """Collects a page's <script> and <link> tags, and each script's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.script_text: dict[str, str] = {}
        self._in_script: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = attributes.get("id") or ""
        elif tag == "link":
            self.links.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text[self._in_script] = self.script_text.get(self._in_script, "") + data


def start(client: Any, exam: Exam) -> Any:
    return client.post(f"/exams/{exam.slug}/start/")


# --- logging in ---------------------------------------------------------------------------------


def test_exam_list_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_page_logs_in_and_redirects(client, user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "taker", "password": "taker-pass-123"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_follows_next(client, user):
    response = client.post(
        "/accounts/login/", {"username": "taker", "password": "taker-pass-123", "next": "/exams/"}
    )
    assert response["Location"] == "/exams/"


def test_login_with_a_wrong_password_stays_on_the_page(client, user):
    response = client.post("/accounts/login/", {"username": "taker", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert b"didn't match" in response.content
    assert client.get("/").status_code == 302


# --- the exam list ------------------------------------------------------------------------------


def test_logged_in_user_sees_active_exams_only(client, user, exam):
    Exam.objects.create(slug="retired", title="Retired Exam", is_active=False)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert [row[0] for row in response.context["rows"]] == [exam]
    assert b"Algebra" in response.content
    assert b"Retired Exam" not in response.content


def test_exam_list_offers_to_continue_an_open_attempt(client, user, attempt):
    client.force_login(user)
    assert f'href="/attempts/{attempt.pk}/"'.encode() in client.get("/").content


# --- starting an attempt ------------------------------------------------------------------------


def test_start_creates_an_attempt_and_redirects_to_its_page(client, user, exam):
    client.force_login(user)
    response = start(client, exam)
    assert response.status_code == 302
    match = ATTEMPT_PATH.match(response["Location"])
    assert match, response["Location"]
    attempt = Attempt.objects.get(pk=match.group(1))
    assert (attempt.user, attempt.exam, attempt.is_open) == (user, exam, True)


def test_second_start_resumes_the_open_attempt(client, user, exam):
    client.force_login(user)
    first = start(client, exam)["Location"]
    second = start(client, exam)["Location"]
    assert first == second
    assert Attempt.objects.count() == 1


def test_start_requires_post(client, user, exam):
    client.force_login(user)
    assert client.get(f"/exams/{exam.slug}/start/").status_code == 405
    assert not Attempt.objects.exists()


def test_start_requires_login(client, exam):
    response = start(client, exam)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Attempt.objects.exists()


def test_start_of_a_closed_exam_goes_back_to_the_list_with_a_message(client, user, exam):
    exam.is_active = False
    exam.save()
    client.force_login(user)
    response = start(client, exam)
    assert response["Location"] == "/"
    assert not Attempt.objects.exists()
    assert b"is not open" in client.get("/").content


def test_start_of_an_unknown_exam_is_404(client, user):
    client.force_login(user)
    assert client.post("/exams/no-such-exam/start/").status_code == 404


# --- the attempt page ---------------------------------------------------------------------------


def test_another_users_attempt_page_is_404(client, attempt):
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    client.force_login(other)
    assert client.get(f"/attempts/{attempt.pk}/").status_code == 404


def test_attempt_page_requires_login(client, attempt):
    response = client.get(f"/attempts/{attempt.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_attempt_page_carries_the_stream_config_with_path_and_protocol(client, user, attempt):
    client.force_login(user)
    response = client.get(f"/attempts/{attempt.pk}/")
    assert response.status_code == 200
    page = PageAssets(response.content.decode())
    [config_tag] = [s for s in page.scripts if s.get("id") == "stream-config"]
    assert config_tag.get("type") == "application/json"
    config = json.loads(page.script_text["stream-config"])
    assert config["wsPath"] == f"/ws/proctoring/{attempt.pk}/"
    assert config["protocol"] == protocol.as_json_data()
    assert config["protocol"]["errors"]["FRAME_TOO_LARGE"] == protocol.ErrorCode.FRAME_TOO_LARGE.value
    assert config["protocol"]["close"]["UNAUTHENTICATED"] == protocol.CloseCode.UNAUTHENTICATED


def test_attempt_page_loads_the_embeddable_camera_and_its_modules_and_nothing_else(client, user, attempt):
    client.force_login(user)
    page = PageAssets(client.get(f"/attempts/{attempt.pk}/").content.decode())
    loaded = [(s.get("src"), s.get("type")) for s in page.scripts if s.get("src")]
    # The embeddable camera is a classic script, before the page's modules that mount it.
    assert loaded == [
        ("/static/proctoring/embed.js", None),
        ("/static/exams/camera.js", "module"),
        ("/static/exams/attempt.js", "module"),
    ]
    sources = [s.get("src") or "" for s in page.scripts] + [link.get("href") or "" for link in page.links]
    assert "/static/site.css" in sources
    external = [url for url in sources if url.startswith(("http://", "https://", "//"))]
    assert external == []


def stream_config(client: Any, attempt: Attempt) -> dict[str, Any]:
    page = PageAssets(client.get(f"/attempts/{attempt.pk}/").content.decode())
    config: dict[str, Any] = json.loads(page.script_text["stream-config"])
    return config


def test_the_camera_waits_for_consent_which_is_recorded_once(client, user, exam, settings):
    settings.PROCTORING_RETENTION_DAYS = 14
    client.force_login(user)
    attempt = Attempt.objects.create(user=user, exam=exam)
    page = client.get(f"/attempts/{attempt.pk}/").content.decode()
    assert 'id="consent"' in page and "deleted after 14 days" in page
    # The camera's place, which embed.js fills, is there; nothing starts it before consent.
    assert 'id="camera"' in page
    assert stream_config(client, attempt)["consented"] is False
    assert client.get(f"/attempts/{attempt.pk}/consent/").status_code == 405
    response = client.post(f"/attempts/{attempt.pk}/consent/")
    assert response.status_code == 302 and response["Location"] == f"/attempts/{attempt.pk}/"
    attempt.refresh_from_db()
    first = attempt.consented_at
    assert first is not None
    assert stream_config(client, attempt)["consented"] is True
    assert 'id="consent"' not in client.get(f"/attempts/{attempt.pk}/").content.decode()
    client.post(f"/attempts/{attempt.pk}/consent/")
    attempt.refresh_from_db()
    assert attempt.consented_at == first, "the first agreement counts"


def test_no_one_consents_for_another_users_attempt(client, exam):
    owner = get_user_model().objects.create_user("owner", password="owner-pass-123")
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    attempt = Attempt.objects.create(user=owner, exam=exam)
    client.force_login(other)
    assert client.post(f"/attempts/{attempt.pk}/consent/").status_code == 404
    attempt.refresh_from_db()
    assert attempt.consented_at is None
