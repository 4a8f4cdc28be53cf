"""The events' payloads, from unsaved rows: their shape is the documented one
(docs/integration.md#webhooks)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from exams.models import Attempt, Exam
from proctoring.models import Incident
from proctoring.webhooks import endpoints, events

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_an_attempt_payload_says_which_attempt_exam_status_and_why():
    attempt = Attempt(
        id=uuid.UUID(int=1), exam=Exam(slug="algebra"), status="terminated", end_reason="phone seen",
        consented_at=AT, ended_at=AT,
    )  # fmt: skip
    data = events.attempt_data(attempt)
    assert data == {
        "attempt_id": str(uuid.UUID(int=1)),
        "exam": "algebra",
        "status": "terminated",
        "reason": "phone seen",
        "started_at": AT.isoformat(),
        "ended_at": AT.isoformat(),
    }
    assert events.payload(events.ATTEMPT_ENDED, data, AT) == {
        "type": "attempt.ended",
        "timestamp": AT.isoformat(),
        "data": data,
    }


def test_an_incident_payload_has_its_kind_severity_times_and_review():
    attempt = Attempt(id=uuid.UUID(int=2), exam=Exam(slug="algebra"))
    incident = Incident(
        pk=9, attempt=attempt, kind="no_face", severity=2, first_seen=AT, last_seen=AT, frame_count=3,
        review_status="dismissed", reviewed_at=AT,
    )  # fmt: skip
    data = events.incident_data(incident)
    assert data["incident_id"] == 9 and data["attempt_id"] == str(uuid.UUID(int=2))
    assert (data["kind"], data["severity"], data["frame_count"]) == ("no_face", 2, 3)
    assert (data["closed_at"], data["review_status"], data["reviewed_at"]) == (
        None,
        "dismissed",
        AT.isoformat(),
    )
    assert data["exam"] == "algebra"


@pytest.mark.parametrize(
    "url",
    [
        "https://lms.example.org/hooks/proctoring",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]:9000/hook",
    ],
)
@override_settings(PROCTORING_WEBHOOK_ALLOW_HTTP=False)
def test_https_anywhere_and_http_to_loopback_are_allowed(url):
    assert endpoints.check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://lms.example.org/hook",  # plain http to another host
        "ftp://lms.example.org/hook",
        "https://user:pass@lms.example.org/hook",
        "https://lms.example.org/hook#x",
        "not a url",
        "https://" + "a" * 500 + ".org/",
    ],
)
@override_settings(PROCTORING_WEBHOOK_ALLOW_HTTP=False)
def test_other_urls_are_refused_naming_the_field(url):
    with pytest.raises(endpoints.InvalidEndpoint) as refused:
        endpoints.check_url(url)
    assert refused.value.field == "url"


@override_settings(PROCTORING_WEBHOOK_ALLOW_HTTP=True)
def test_plain_http_elsewhere_when_allowed():
    assert endpoints.check_url("http://lms.internal/hook") == "http://lms.internal/hook"


def test_event_types_are_checked_and_deduplicated():
    assert endpoints.check_event_types(["attempt.ended", "attempt.ended"]) == ["attempt.ended"]
    for wrong in ([], ["attempt.paused"]):
        with pytest.raises(endpoints.InvalidEndpoint):
            endpoints.check_event_types(wrong)
