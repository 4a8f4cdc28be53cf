"""Who may reach what: anonymous, the exam taker, another exam taker, a superuser and staff with no
permission, over every page,
API and socket (exam pages, attempt sockets, the proctor dashboard and its socket, the admin's
queue pages, stats, metrics and the reference API)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from exams.models import Attempt
from proctoring.core.protocol import CloseCode
from tests.communicators import close_code, converse, session_headers
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

WHO = ("anonymous", "taker", "other", "staff", "bare")
LOGIN = "login"  # redirected to a login page
ADMIN_LOGIN = "admin-login"


@pytest.fixture
def people(user: Any, attempt: Attempt) -> dict[str, Any]:
    model = get_user_model()
    return {
        "anonymous": None,
        "taker": user,  # the attempt's owner
        "other": model.objects.create_user("other", password="other-pass-123"),
        "staff": model.objects.create_superuser("staff", password="staff-pass-123"),
        "bare": model.objects.create_user("bare", password="bare-pass-123", is_staff=True),
    }


def outcome(response: Any) -> Any:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.startswith("/accounts/login/"):
            return LOGIN
        return 302
    return response.status_code


def http(who: Any, method: str, path: str, **extra: Any) -> Any:
    client = Client()
    if who is not None:
        client.force_login(who)
    return outcome(getattr(client, method)(path, **extra))


# page -> the answer for anonymous, the attempt's taker, another taker, a superuser, bare staff
def matrix(attempt: Attempt) -> dict[tuple[str, str], tuple[Any, Any, Any, Any, Any]]:
    a, slug = attempt.pk, attempt.exam.slug
    return {
        ("get", "/"): (LOGIN, 200, 200, 200, 200),
        ("get", f"/attempts/{a}/"): (LOGIN, 200, 404, 404, 404),
        ("post", f"/attempts/{a}/consent/"): (LOGIN, 302, 404, 404, 404),
        ("get", "/proctor/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", f"/proctor/exams/{slug}/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", f"/proctor/attempts/{a}/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/proctoring/queue/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/proctoring/queue/clients/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/proctoring/queue/failed/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/proctoring/queue/expired/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/proctoring/queue/stats.json"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/django_rq/dashboard/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 403),
        ("get", "/admin/"): (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 200),
        ("get", "/proctoring/stats.json"): (401, 401, 401, 200, 403),
        ("get", "/metrics"): (401, 401, 401, 200, 403),
    }


def test_every_page_answers_each_kind_of_person_as_it_should(people, attempt):
    found = {}
    expected = {}
    for (method, path), answers in matrix(attempt).items():
        for who, answer in zip(WHO, answers, strict=True):
            expected[(method, path, who)] = answer
            found[(method, path, who)] = http(people[who], method, path)
    assert found == expected


def test_the_stats_and_metrics_token_opens_them_to_a_monitoring_system(settings):
    settings.PROCTORING_STATS_TOKEN = "monitoring-token-0123456789"
    for path in ("/proctoring/stats.json", "/metrics"):
        assert (
            Client().get(path, headers={"Authorization": "Bearer monitoring-token-0123456789"}).status_code
            == 200
        )
        assert (
            Client().get(path, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        )


def test_the_attempt_socket_is_its_takers_alone(people, attempt):
    path = f"/ws/proctoring/{attempt.pk}/"
    assert close_code(path, [(b"origin", b"http://testserver")]) == CloseCode.UNAUTHENTICATED
    assert close_code(path, session_headers(people["other"])) == CloseCode.FORBIDDEN
    assert close_code(path, session_headers(people["staff"])) == CloseCode.FORBIDDEN
    assert close_code(path, session_headers(people["bare"])) == CloseCode.FORBIDDEN
    [reply] = converse(path, [{"bytes_data": jpeg_bytes()}], session_headers(people["taker"]))
    assert reply["type"] == "ack"


def test_the_dashboard_and_events_sockets_are_staff_only(people, attempt):
    for path in (f"/ws/proctor/exams/{attempt.exam.slug}/", "/ws/admin/proctoring/events/"):
        assert close_code(path, [(b"origin", b"http://testserver")]) == CloseCode.UNAUTHENTICATED
        assert close_code(path, session_headers(people["taker"])) == CloseCode.FORBIDDEN
        assert close_code(path, session_headers(people["other"])) == CloseCode.FORBIDDEN
        assert close_code(path, session_headers(people["bare"])) == CloseCode.FORBIDDEN


def test_the_reference_api_wants_its_key_whoever_is_logged_in(people, settings):
    settings.REFERENCE_API_KEY = "reference-key"
    fields = {"client_id": "c", "attempt_id": "a", "seq": "1", "captured_at": "2026-11-29T10:00:00Z"}

    def post(who: Any, headers: dict[str, str]) -> int:
        client = Client()
        if who is not None:
            client.force_login(who)
        image = SimpleUploadedFile("f.jpg", jpeg_bytes(), content_type="image/jpeg")
        return client.post(
            "/reference-api/v1/analyze", {**fields, "image": image}, headers=headers
        ).status_code

    for who in WHO:
        assert post(people[who], {}) == 401, who
    assert post(None, {"Authorization": "Bearer reference-key"}) == 200
