"""Keys, exams and a client that calls the API as a platform would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from exams.models import Exam
from proctoring.api import keys


class ApiClient:
    """A test client that sends `key` as a Bearer token (or none) and JSON bodies."""

    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, body or {}, content_type="application/json", headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.headers)


@pytest.fixture
def other_exam(db: None) -> Exam:
    return Exam.objects.create(slug="history", title="History")


@pytest.fixture
def make_key(db: None) -> Callable[..., str]:
    def make(*exams: Exam, name: str = "moodle", all_exams: bool = False, platform: str = "") -> str:
        return keys.issue(name, exams=exams, all_exams=all_exams, platform=platform).plaintext

    return make


@pytest.fixture
def platform(exam: Exam, make_key: Callable[..., str]) -> ApiClient:
    """A platform with a key to `exam`."""
    return ApiClient(make_key(exam))


def create(client: ApiClient, exam: str = "algebra", user: str = "u-1", **more: Any) -> Any:
    return client.post("/api/v1/attempts/", {"exam": exam, "external_user": user, **more})
