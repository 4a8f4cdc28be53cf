"""The API's one error shape (issue 22, item 2), its bounds on input, and the rate limit per key:
429 with Retry-After once a key's calls in the minute are spent, counted in Redis so that every
process of the site shares them."""

from __future__ import annotations

from typing import Any

import pytest

from proctoring.api import throttling
from proctoring.api.errors import ALL_CODES, UNAVAILABLE_RETRY_AFTER
from tests.integration.api.conftest import ApiClient, create
from tests.support import free_port

pytestmark = pytest.mark.django_db


def assert_error(answer, status: int, code: str, field: str | None = None) -> Any:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"} and code in ALL_CODES
    assert body["error"]["code"] == code and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "field"}
    assert body["error"].get("field") == field
    return body["error"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"external_user": "u"}, "exam"),
        ({"exam": "algebra"}, "external_user"),
        ({"exam": "algebra", "external_user": ""}, "external_user"),
        ({"exam": "algebra", "external_user": "u" * 151}, "external_user"),
        ({"exam": "algebra", "external_user": "u", "display_name": "d" * 151}, "display_name"),
        ({"exam": "algebra", "external_user": "u", "consented": "perhaps"}, "consented"),
        ({"exam": "not a slug!", "external_user": "u"}, "exam"),
        ({"exam": ["algebra"], "external_user": "u"}, "exam"),
    ],
)
def test_a_bad_field_is_named(platform, payload, field):
    assert_error(platform.post("/api/v1/attempts/", payload), 400, "invalid", field)


def test_the_longest_accepted_external_user_is_150_characters(platform):
    assert create(platform, user="u" * 150).status_code == 201


def test_the_end_reason_is_bounded(platform):
    attempt = create(platform).json()["id"]
    answer = platform.post(f"/api/v1/attempts/{attempt}/end/", {"reason": "r" * 501})
    assert_error(answer, 400, "invalid", "reason")


def test_not_json_wrong_type_wrong_method_and_unknown_paths_answer_in_the_shape(platform):
    raw = platform.client.post(
        "/api/v1/attempts/", "{not json", content_type="application/json", headers=platform.headers
    )
    assert_error(raw, 400, "malformed")
    form = platform.client.post("/api/v1/attempts/", {"exam": "algebra"}, headers=platform.headers)
    assert_error(form, 415, "unsupported_media_type")
    assert_error(
        platform.client.delete("/api/v1/attempts/", headers=platform.headers), 405, "method_not_allowed"
    )
    assert_error(platform.get("/api/v1/nothing/here/"), 404, "not_found")
    assert_error(platform.get("/api/v1/attempts/not-a-uuid/"), 404, "not_found")


def test_a_key_past_its_calls_per_minute_gets_429_with_retry_after(exam, make_key, settings, redis_conn):
    settings.PROCTORING_API_CALLS_PER_MINUTE = 3
    spent, other = ApiClient(make_key(exam, name="a")), ApiClient(make_key(exam, name="b"))
    for _ in range(3):
        assert spent.get("/api/v1/exams/algebra/attempts/").status_code == 200
    refused = spent.get("/api/v1/exams/algebra/attempts/")
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert other.get("/api/v1/exams/algebra/attempts/").status_code == 200  # per key
    # The count is Redis's, so another process of the site sees it.
    assert any(name.startswith(b"proctoring:api-key:") for name in redis_conn.keys("proctoring:api-key:*"))


def test_the_window_resets_each_minute(redis_conn):
    assert throttling.spend(7, 2, now=600.0) is None
    assert throttling.spend(7, 2, now=601.0) is None
    assert throttling.spend(7, 2, now=659.5) == pytest.approx(0.5)
    assert throttling.spend(7, 2, now=660.0) is None
    assert 0 < redis_conn.ttl("proctoring:api-key:7:calls:10") <= 120


def test_a_bug_is_a_500_in_the_same_shape_and_logged(platform, monkeypatch, caplog):
    attempt = create(platform).json()["id"]

    def broken(attempt):
        raise RuntimeError("a bug")

    monkeypatch.setattr("proctoring.api.attempts.detail", broken)
    answer = platform.get(f"/api/v1/attempts/{attempt}/")
    assert_error(answer, 500, "server_error")
    assert "a bug" not in answer.content.decode()
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_an_unreachable_redis_is_503_unavailable_with_retry_after(platform: ApiClient, settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    error = assert_error(
        platform.get("/api/v1/attempts/00000000-0000-0000-0000-000000000000/"), 503, "unavailable"
    )
    assert "try again" in error["message"]
    assert platform.get("/api/v1/webhooks/")["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER)
