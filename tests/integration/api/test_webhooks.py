"""/api/v1/webhooks/: a key registers endpoints for its exams (the secret answered once), lists
and removes its own, never another key's; URLs and event types are checked; each change is in
the audit log under the key's name."""

from __future__ import annotations

import pytest

from proctoring.models import AuditEntry, WebhookEndpoint
from proctoring.webhooks import events
from tests.integration.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

HOOKS = "/api/v1/webhooks/"
URL = "https://lms.example.org/proctoring/hooks"


def test_a_key_registers_lists_and_removes_its_endpoint(platform):
    made = platform.post(HOOKS, {"url": URL, "description": "grades"})
    assert made.status_code == 201
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["url"] == URL
    assert body["event_types"] == list(events.TYPES) and body["active"] is True
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"] and endpoint.owner is not None
    listed = platform.get(HOOKS).json()["results"]
    assert [entry["id"] for entry in listed] == [body["id"]]
    assert "secret" not in listed[0], "the secret is answered once, at registration"
    assert platform.delete(f"{HOOKS}{body['id']}/").status_code == 204
    assert platform.get(HOOKS).json()["results"] == [] and not WebhookEndpoint.objects.exists()
    audited = AuditEntry.objects.filter(actor_username="api-key:moodle").values_list("action", flat=True)
    assert set(audited) == {AuditEntry.Action.WEBHOOK_CREATED, AuditEntry.Action.WEBHOOK_DELETED}


def test_another_keys_endpoint_is_neither_listed_nor_removed(platform, other_exam, make_key):
    other = ApiClient(make_key(other_exam, name="canvas"))
    theirs = other.post(HOOKS, {"url": URL, "event_types": [events.ATTEMPT_ENDED]}).json()
    assert platform.get(HOOKS).json()["results"] == []
    refused = platform.delete(f"{HOOKS}{theirs['id']}/")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert platform.delete(f"{HOOKS}not-a-number/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=theirs["id"]).exists()


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"url": "http://lms.example.org/hook"}, "url"),
        ({"url": "https://u:p@lms.example.org/hook"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": URL, "event_types": ["attempt.paused"]}, "event_types"),
        ({"url": URL, "event_types": []}, "event_types"),
        ({}, "url"),
    ],
)
def test_an_endpoint_it_may_not_have_is_refused_naming_the_field(platform, settings, given, field):
    settings.PROCTORING_WEBHOOK_ALLOW_HTTP = False
    refused = platform.post(HOOKS, given)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid" and refused.json()["error"]["field"].startswith(field)
    assert not WebhookEndpoint.objects.exists()


def test_http_to_loopback_is_allowed(platform, settings):
    settings.PROCTORING_WEBHOOK_ALLOW_HTTP = False
    assert platform.post(HOOKS, {"url": "http://127.0.0.1:8080/hook"}).status_code == 201


def test_a_key_has_a_bounded_number_of_endpoints(platform, settings):
    settings.PROCTORING_WEBHOOKS_PER_KEY = 2
    assert [platform.post(HOOKS, {"url": URL}).status_code for _ in range(2)] == [201, 201]
    refused = platform.post(HOOKS, {"url": URL})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_webhooks"


def test_without_a_key_nothing_is_listed_or_made(db):
    anonymous = ApiClient(None)
    assert anonymous.get(HOOKS).status_code == 401
    assert anonymous.post(HOOKS, {"url": URL}).status_code == 401
