"""Every endpoint's auth and scope matrix (issue 22, item 2): no key, a malformed key, an unknown
key, a revoked key and another exam's key are refused in the one error shape; the right key passes.
An attempt of an exam outside the key's scope is 404, like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from exams.models import Attempt
from proctoring.api import keys
from proctoring.models import ApiKey
from tests.integration.api.conftest import ApiClient, create

pytestmark = pytest.mark.django_db


def calls(attempt_id: str) -> list[tuple[str, str, dict[str, str] | None]]:
    return [
        ("post", "/api/v1/attempts/", {"exam": "algebra", "external_user": "u-9"}),
        ("get", f"/api/v1/attempts/{attempt_id}/", None),
        ("post", f"/api/v1/attempts/{attempt_id}/end/", {}),
        ("get", f"/api/v1/attempts/{attempt_id}/incidents/", None),
        ("get", "/api/v1/exams/algebra/attempts/", None),
    ]


def call(client: ApiClient, method: str, path: str, body: dict[str, str] | None) -> Any:
    return client.post(path, body) if method == "post" else client.get(path)


@pytest.fixture
def attempt_id(platform):
    answer = create(platform, user="u-1")
    assert answer.status_code == 201, answer.json()
    return answer.json()["id"]


@pytest.mark.parametrize("index", range(5))
def test_without_a_usable_key_every_endpoint_answers_401(index, attempt_id, exam, make_key):
    revoked = make_key(exam, name="old")
    keys.revoke(ApiKey.objects.get(name="old"))
    method, path, body = calls(attempt_id)[index]
    for presented in [
        None,
        "",
        "Basic abc",
        "Bearer",
        "Bearer pk_nothing",
        "Bearer " + "pk_0123abcd_" + "x" * 43,
        f"Bearer {revoked}",
    ]:
        client = ApiClient(None)
        if presented is not None:
            client.headers = {"Authorization": presented}
        answer = call(client, method, path, body)
        assert answer.status_code == 401, (presented, answer.content)
        assert answer.json()["error"]["code"] == "unauthenticated"
        assert answer["WWW-Authenticate"].startswith("Bearer")
    assert Attempt.objects.count() == 1  # nothing was created or ended
    assert Attempt.objects.get().is_open


@pytest.mark.parametrize("index", range(5))
def test_another_exams_key_is_refused_without_learning_whether_the_attempt_exists(
    index, attempt_id, other_exam, make_key
):
    outsider = ApiClient(make_key(other_exam, name="other"))
    method, path, body = calls(attempt_id)[index]
    answer = call(outsider, method, path, body)
    if "/attempts/" + attempt_id in path:
        assert answer.status_code == 404
        unknown = call(outsider, method, path.replace(attempt_id, str(uuid.uuid4())), body)
        assert unknown.status_code == 404 and unknown.json() == answer.json()
        assert answer.json()["error"]["code"] == "not_found"
    else:  # naming the exam: 403, as for an exam that does not exist
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "exam_out_of_scope"
        unknown = call(
            outsider,
            method,
            path.replace("algebra", "no-such-exam"),
            body and {**body, "exam": "no-such-exam"},
        )
        assert unknown.status_code == 403
    assert Attempt.objects.get().is_open


@pytest.mark.parametrize("index", range(5))
def test_the_right_key_passes(index, attempt_id, platform):
    method, path, body = calls(attempt_id)[index]
    answer = call(platform, method, path, body)
    assert answer.status_code in (200, 201), answer.content


def test_an_empty_scope_reaches_nothing_and_all_exams_reaches_all(attempt_id, other_exam, make_key):
    assert create(ApiClient(make_key(name="nothing"))).status_code == 403
    everything = ApiClient(make_key(name="all", all_exams=True))
    assert everything.get(f"/api/v1/attempts/{attempt_id}/").status_code == 200
    assert create(everything, exam="history").status_code == 201
