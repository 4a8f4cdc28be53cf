"""Incidents with signed snapshot links, and the review queue, through the API (issue 22, item 2):
a link works without a key or session until it expires; a forged, altered or expired link, or
one of a revoked key, is refused."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from exams.models import Attempt
from proctoring.api import keys, snapshot_links
from proctoring.live import review
from proctoring.models import ApiKey, AuditEntry, FrameResult, Incident
from proctoring.results import snapshots
from tests.integration.api.conftest import ApiClient, create
from tests.integration.live.analysed import stream

pytestmark = pytest.mark.django_db

IMAGE = b"\xff\xd8\xff\xe0 a jpeg, as far as this test cares \xff\xd9"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def flagged_attempt(platform: ApiClient, user: str, flags: list[list[str]]) -> Attempt:
    body = create(platform, user=user, consented=True).json()
    attempt = Attempt.objects.get(pk=body["id"])
    stream(attempt, flags)
    for incident in Incident.objects.filter(attempt=attempt).select_related("snapshot"):
        frame = incident.snapshot
        assert frame is not None
        frame.snapshot_key = snapshots.save(str(attempt.pk), frame.job_id, "image/jpeg", IMAGE)
        frame.save(update_fields=["snapshot_key"])
    return attempt


def test_incidents_carry_kind_severity_times_review_state_and_a_working_link(platform):
    attempt = flagged_attempt(platform, "u", [["multiple_faces"]] * 2 + [[]] * 2)
    answer = platform.get(f"/api/v1/attempts/{attempt.pk}/incidents/")
    assert answer.status_code == 200
    page = answer.json()
    assert page["count"] == 1
    incident = page["results"][0]
    assert incident["kind"] == "multiple_faces" and incident["severity"] == 3
    assert incident["review_status"] == "pending" and incident["closed"] is False
    assert incident["first_seen"] < incident["last_seen"]
    assert incident["snapshot_url"].startswith("/api/v1/snapshots/")
    image = Client().get(incident["snapshot_url"])  # no key, no session
    assert image.status_code == 200 and image.content == IMAGE
    assert image["Content-Type"] == "image/jpeg" and "no-store" in image["Cache-Control"]
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.SNAPSHOT_VIEWED, actor_username="api-key:moodle"
    ).exists()


def test_a_link_expires_and_a_forged_or_altered_one_is_refused(platform, settings):
    attempt = flagged_attempt(platform, "u", [["no_face"]] * 2)
    job_id = FrameResult.objects.filter(attempt=attempt).exclude(snapshot_key="").get().job_id
    key_id = ApiKey.objects.get().pk
    link = snapshot_links.make(job_id, key_id)
    assert Client().get(link.url).status_code == 200
    signed = link.url.rsplit("/", 1)[1]
    forged = signing.dumps({"j": job_id, "k": key_id}, salt=snapshot_links.SALT, key="not-the-secret-key")
    altered = signed.replace(signed.split(":")[0], signing.b64_encode(b'{"j":"other","k":1}').decode())
    for bad in [forged, altered, "nonsense", signed + "x"]:
        refused = Client().get(f"/api/v1/snapshots/{bad}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    settings.PROCTORING_API_SNAPSHOT_LINK_SECONDS = 10
    # A link signed as `make` signs, 11 s ago (the signer's clock is time.time).
    with mock.patch("time.time", return_value=timezone.now().timestamp() - 11):
        expired = snapshot_links.make(job_id, key_id).url
    answer = Client().get(expired)
    assert answer.status_code == 404 and "expired" in answer.json()["error"]["message"]


def test_a_revoked_keys_links_stop_working(platform):
    attempt = flagged_attempt(platform, "u", [["no_face"]] * 2)
    url = platform.get(f"/api/v1/attempts/{attempt.pk}/incidents/").json()["results"][0]["snapshot_url"]
    keys.revoke(ApiKey.objects.get())
    assert Client().get(url).status_code == 404


def test_the_review_queue_is_the_live_ranking_paginated(platform, exam):
    calm = flagged_attempt(platform, "calm", [[]] * 6)
    busy = flagged_attempt(platform, "busy", [["multiple_faces"]] * 4 + [[]] * 2)
    middling = flagged_attempt(platform, "middling", [["no_face"]] * 2 + [[]] * 4)
    expected = [str(entry.attempt.pk) for entry in review.queue(exam)]
    assert expected[0] == str(busy.pk) and expected[-1] == str(calm.pk)
    answer = platform.get("/api/v1/exams/algebra/attempts/", ordering="-risk").json()
    assert [row["id"] for row in answer["results"]] == expected and answer["count"] == 3
    assert answer["results"][0]["external_user"] == "busy" and answer["results"][0]["risk"] > 0
    ascending = platform.get("/api/v1/exams/algebra/attempts/", ordering="risk").json()
    assert [row["id"] for row in ascending["results"]] == expected[::-1]
    paged = platform.get("/api/v1/exams/algebra/attempts/", page_size=2, page=2).json()
    assert [row["id"] for row in paged["results"]] == expected[2:] and paged["previous"]
    past = platform.get("/api/v1/exams/algebra/attempts/", page=3)
    assert past.status_code == 404 and past.json()["error"]["code"] == "not_found"
    bad = platform.get("/api/v1/exams/algebra/attempts/", ordering="name")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "ordering"
    assert str(middling.pk) in expected


def test_a_closed_incident_says_so(platform):
    attempt = flagged_attempt(platform, "u", [["no_face"]] * 2)
    Incident.objects.update(closed_at=timezone.now() - timedelta(seconds=1))
    incident = platform.get(f"/api/v1/attempts/{attempt.pk}/incidents/").json()["results"][0]
    assert incident["closed"] is True and incident["closed_at"]
