"""Which changes are sent to which endpoints: an attempt's start and end, an incident's opening,
review and closing, each once committed (never for a change rolled back), to the endpoints that
asked for that type and reach that exam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.db import transaction

from exams import lifecycle
from exams.models import Attempt, Exam
from proctoring.api import keys
from proctoring.core.frames import FrameMeta
from proctoring.live import actions
from proctoring.models import ExternalUser, Incident, WebhookEndpoint
from proctoring.results import incidents
from proctoring.results import writer as results
from proctoring.webhooks import delivery, endpoints, events
from tests.integration.webhooks.conftest import sent, types

pytestmark = pytest.mark.django_db(transaction=True)

A = lifecycle.Action


@pytest.fixture
def fresh(attempt: Attempt) -> Attempt:
    """An attempt opened, its clock not started."""
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    attempt.refresh_from_db()
    return attempt


def flagged_frame(attempt: Attempt, seq: int, flags: list[str]) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    meta = FrameMeta(
        client_id=str(attempt.pk), attempt_id=str(attempt.pk), seq=seq, captured_at=now,
        received_at=now, content_type="image/jpeg",
    )  # fmt: skip
    results.store_result(meta, f"{attempt.pk.hex[:8]}{seq:024d}", {"flags": flags}, b"img").result(timeout=30)


def queued_job_ids() -> list[str]:
    return list(django_rq.get_queue(delivery.QUEUE).job_ids)


def test_an_attempts_start_and_end_are_sent_and_queued_and_nothing_between(fresh, everything):
    lifecycle.apply(fresh, A.BEGIN)
    for action in (A.PAUSE, A.RESUME):
        lifecycle.apply(fresh, action)
    lifecycle.apply(fresh, A.EXTEND, extra_seconds=60)
    lifecycle.apply(fresh, A.SUBMIT, reason="done")
    assert types() == [events.ATTEMPT_STARTED, events.ATTEMPT_ENDED]
    started, ended = sent()
    assert started.payload["data"]["status"] == "in_progress"
    assert ended.payload["type"] == "attempt.ended"
    assert ended.payload["data"] | {"ended_at": None} == {
        "attempt_id": str(fresh.pk), "exam": "algebra", "status": "submitted", "reason": "done",
        "started_at": ended.payload["data"]["started_at"], "ended_at": None, "external_user": None,
    }  # fmt: skip
    assert started.event_id.startswith("msg_") and started.event_id != ended.event_id
    assert queued_job_ids() == [delivery.job_id(started.pk, 1), delivery.job_id(ended.pk, 1)]


def test_a_change_rolled_back_is_never_sent(fresh, everything):
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.apply(fresh, A.BEGIN)
        raise RuntimeError("the caller's transaction fails after the transition")
    assert Attempt.objects.get(pk=fresh.pk).status == Attempt.Status.STARTED
    assert sent() == [] and queued_job_ids() == []


def test_an_incident_is_sent_when_opened_reviewed_and_closed_at_the_attempts_end(
    fresh, everything, admin_user
):
    running = lifecycle.apply(fresh, A.BEGIN).attempt
    flagged_frame(running, 1, ["no_face"])
    flagged_frame(running, 2, ["no_face"])  # the same incident, extended: nothing new to say
    incident = Incident.objects.get(attempt=running)
    incidents.review(incident, admin_user, Incident.Review.DISMISSED, "a reflection")
    lifecycle.apply(running, A.TERMINATE, reason="phone seen")
    assert types() == [
        events.ATTEMPT_STARTED, events.INCIDENT_OPENED, events.INCIDENT_REVIEWED, events.ATTEMPT_ENDED,
        events.INCIDENT_CLOSED,
    ]  # fmt: skip
    opened, reviewed, closed = (d.payload["data"] for d in sent() if d.event_type.startswith("incident."))
    assert opened["incident_id"] == incident.pk and opened["kind"] == "no_face" and opened["severity"] == 2
    assert opened["closed_at"] is None and opened["review_status"] == "pending"
    assert reviewed["review_status"] == "dismissed" and reviewed["reviewed_at"] is not None
    assert closed["closed_at"] is not None and closed["attempt_id"] == str(running.pk)


def test_an_incident_born_closed_and_a_proctors_flag_are_sent(fresh, everything, admin_user):
    running = lifecycle.apply(fresh, A.BEGIN).attempt
    actions.flag(running, admin_user, "a second person")
    ended = lifecycle.apply(running, A.TERMINATE).attempt
    flagged_frame(ended, 1, ["multiple_faces"])  # acked before the end, analysed after it
    assert types()[-2:] == [events.INCIDENT_OPENED, events.INCIDENT_CLOSED]
    assert types().count(events.INCIDENT_OPENED) == 2
    assert sent()[-1].payload["data"]["kind"] == "multiple_faces"


def test_an_endpoint_is_sent_only_the_types_it_asked_for(fresh, receiver):
    ends = endpoints.register(receiver.url, [events.ATTEMPT_ENDED]).endpoint
    running = lifecycle.apply(fresh, A.BEGIN).attempt
    lifecycle.apply(running, A.TERMINATE)
    assert types(ends) == [events.ATTEMPT_ENDED]


def test_a_keys_endpoint_hears_only_its_keys_exams_and_its_own_platforms_user_ids(fresh, receiver):
    other = Exam.objects.create(slug="history", title="History")
    moodle = keys.issue("moodle", exams=[fresh.exam]).key
    canvas = keys.issue("canvas", exams=[other]).key
    everywhere = keys.issue("everywhere", all_exams=True).key
    ExternalUser.objects.create(platform="moodle", external_id="m-42", user=fresh.user)
    mine = endpoints.register(receiver.url, events.TYPES, owner=moodle).endpoint
    theirs = endpoints.register(receiver.url, events.TYPES, owner=canvas).endpoint
    wide = endpoints.register(receiver.url, events.TYPES, owner=everywhere).endpoint
    admins = endpoints.register(receiver.url, events.TYPES).endpoint
    lifecycle.apply(fresh, A.BEGIN)
    assert types(mine) == types(wide) == types(admins) == [events.ATTEMPT_STARTED]
    assert types(theirs) == []
    assert sent(mine)[0].payload["data"]["external_user"] == "m-42"
    assert sent(admins)[0].payload["data"]["external_user"] == "m-42"
    assert sent(wide)[0].payload["data"]["external_user"] is None, "another platform's user id is not told"
    assert sent(mine)[0].event_id == sent(admins)[0].event_id, "one message id per event"


def test_a_revoked_keys_and_a_disabled_endpoint_hear_nothing(fresh, receiver):
    moodle = keys.issue("moodle", exams=[fresh.exam]).key
    revoked = endpoints.register(receiver.url, events.TYPES, owner=moodle).endpoint
    keys.revoke(moodle)
    disabled = endpoints.register(receiver.url, events.TYPES).endpoint
    WebhookEndpoint.objects.filter(pk=disabled.pk).update(disabled_at=datetime.now(UTC))
    lifecycle.apply(fresh, A.BEGIN)
    assert types(revoked) == [] and types(disabled) == []
