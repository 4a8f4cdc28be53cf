"""The API's error shape as a plain function (no database, no Redis): DRF's refusals mapped to
the documented codes, the first bad field named, Retry-After on 429."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions

from proctoring.api import errors, platform_users


def answer(exc: Exception) -> tuple[int, Any, dict[str, str]]:
    response = errors.exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data, dict(response.items())


def test_each_drf_refusal_has_its_code():
    cases = [
        (exceptions.NotAuthenticated(), 401, "unauthenticated"),
        (exceptions.AuthenticationFailed(), 401, "unauthenticated"),
        (exceptions.PermissionDenied(), 403, "exam_out_of_scope"),
        (exceptions.NotFound(), 404, "not_found"),
        (exceptions.ParseError(), 400, "malformed"),
        (exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
        (exceptions.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type"),
        (exceptions.Throttled(wait=12.2), 429, "rate_limited"),
    ]
    for exc, status, code in cases:
        got_status, body, _ = answer(exc)
        assert (got_status, body["error"]["code"]) == (status, code)
        assert set(body["error"]) == {"code", "message"}
        assert code in errors.ALL_CODES


def test_retry_after_is_whole_seconds_rounded_up_and_401_names_the_scheme():
    assert answer(exceptions.Throttled(wait=12.2))[2]["Retry-After"] == "13"
    assert answer(exceptions.Throttled(wait=0.1))[2]["Retry-After"] == "1"
    assert answer(exceptions.NotAuthenticated())[2]["WWW-Authenticate"].startswith("Bearer")


def test_a_validation_error_names_its_first_field_nested_or_not():
    _, body, _ = answer(exceptions.ValidationError({"external_user": ["too long"], "exam": ["bad"]}))
    assert body == {"error": {"code": "invalid", "message": "too long", "field": "external_user"}}
    _, nested, _ = answer(exceptions.ValidationError({"a": {"b": ["wrong"]}}))
    assert nested["error"]["field"] == "a.b"
    _, general, _ = answer(exceptions.ValidationError(["no field at fault"]))
    assert "field" not in general["error"]


def test_any_other_exception_is_a_500_in_the_shape_without_its_text():
    status, body, _ = answer(RuntimeError("secret detail"))
    assert status == 500 and body["error"]["code"] == "server_error"
    assert "secret detail" not in body["error"]["message"]


def test_usernames_are_deterministic_bounded_and_per_platform():
    one = platform_users.username_for("moodle", "42")
    assert one == platform_users.username_for("moodle", "42")
    assert one != platform_users.username_for("canvas", "42")
    assert one != platform_users.username_for("moodle", "42 ")
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert platform_users.username_for("ab", "c") != platform_users.username_for("a", "bc")
    assert len(platform_users.username_for("p", "x" * 150)) == len(one) == 36
