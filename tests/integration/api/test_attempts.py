"""Opening and ending attempts through the API (issue 22, item 2): one open attempt per platform
user and exam, even under concurrent calls; the ws_path's token opens the camera's socket; ending
goes through the state machine, recorded and audited under the key's name."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from exams import lifecycle
from exams.models import Attempt, Exam, Transition
from proctoring.api import platform_users
from proctoring.core.access import StreamRefused
from proctoring.gateway import auth
from proctoring.models import AuditEntry, ExternalUser
from proctoring.results import incidents
from tests.integration.api.conftest import ApiClient, create


@pytest.mark.django_db
def test_create_answers_201_then_200_with_the_same_open_attempt(platform):
    first = create(platform, user="student-7", display_name="Ada L.")
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "started" and body["exam"] == "algebra" and body["external_user"] == "student-7"
    assert body["ws_path"] == f"/ws/proctoring/{body['id']}/?token={body['token']}"
    again = create(platform, user="student-7")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Attempt.objects.count() == 1
    user = Attempt.objects.get().user
    assert user.username == platform_users.username_for("moodle", "student-7") and len(user.username) == 36
    assert user.first_name == "Ada L." and not user.has_usable_password()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.API_ATTEMPT_CREATED)
    assert entry.actor_username == "api-key:moodle" and entry.target_id == body["id"]


@pytest.mark.django_db
def test_platforms_users_of_one_id_are_distinct_and_keys_of_one_platform_share_them(exam, make_key):
    one = ApiClient(make_key(exam, name="a", platform="school"))
    rotated = ApiClient(make_key(exam, name="b", platform="school"))
    elsewhere = ApiClient(make_key(exam, name="c", platform="other-school"))
    first = create(one, user="42").json()["id"]
    assert create(rotated, user="42").json()["id"] == first
    assert create(elsewhere, user="42").json()["id"] != first
    assert ExternalUser.objects.count() == 2


@pytest.mark.django_db
def test_the_keys_scope_is_the_enrolment_but_the_window_holds(platform, exam):
    from django.contrib.auth.models import Group
    from django.utils import timezone

    exam.enrolled_group = Group.objects.create(name="cohort")
    exam.save()
    assert create(platform, user="a").status_code == 201  # no group asked of a platform's user
    exam.closes_at = timezone.now()
    exam.save()
    closed = create(platform, user="b")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "exam_closed"
    assert closed.json()["error"]["field"] == "exam"


@pytest.mark.django_db
def test_consent_given_through_the_api_lets_the_token_stream(platform):
    body = create(platform, user="u").json()
    attempt = Attempt.objects.get(pk=body["id"])
    with pytest.raises(StreamRefused):
        auth.open_stream(body["id"], None, body["token"], None)
    consented = create(platform, user="u", consented=True)
    assert consented.status_code == 200 and consented.json()["status"] == "in_progress"
    assert consented.json()["deadline"] is not None and consented.json()["seconds_left"] > 0
    identity, _ = auth.open_stream(body["id"], None, consented.json()["token"], None)
    assert identity.attempt_id == str(attempt.pk) and identity.via == "token"


@pytest.mark.django_db
def test_end_terminates_through_the_lifecycle_and_the_token_is_refused_after(platform):
    body = create(platform, user="u", consented=True).json()
    seen: list[str] = []

    def listener(sender, attempt, transition, **kwargs):
        seen.append(transition.action)

    lifecycle.attempt_changed.connect(listener)
    try:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            ended = platform.post(f"/api/v1/attempts/{body['id']}/end/", {"reason": "left the LMS"})
    finally:
        lifecycle.attempt_changed.disconnect(listener)
    assert ended.status_code == 200
    assert ended.json()["status"] == "terminated" and ended.json()["ws_path"] is None
    assert seen == ["terminate"]  # the gateway closes the socket (4410) on this signal
    transition = Transition.objects.get(attempt_id=body["id"], action="terminate")
    assert transition.reason == "left the LMS" and transition.from_status == "in_progress"
    with pytest.raises(StreamRefused):
        auth.open_stream(body["id"], None, body["token"], None)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.API_ATTEMPT_ENDED)
    assert entry.actor_username == "api-key:moodle" and entry.detail["status"] == "terminated"
    # Ending again changes nothing and records nothing; a new create is the exam's rule: one
    # attempt each by default (a 409 naming it), a new attempt where the exam allows more.
    assert platform.post(f"/api/v1/attempts/{body['id']}/end/").json()["status"] == "terminated"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.API_ATTEMPT_ENDED).count() == 1
    refused = create(platform, user="u")
    assert refused.status_code == 409 and "used your 1 attempt" in refused.json()["error"]["message"]
    Exam.objects.update(attempts_allowed=0)
    assert create(platform, user="u").status_code == 201


@pytest.mark.django_db
def test_submit_scores_an_attempt_in_progress_and_is_refused_before_consent(platform):
    started = create(platform, user="u").json()
    refused = platform.post(f"/api/v1/attempts/{started['id']}/end/", {"submit": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "transition_refused"
    create(platform, user="u", consented=True)
    submitted = platform.post(f"/api/v1/attempts/{started['id']}/end/", {"submit": True})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"


@pytest.mark.django_db
def test_get_answers_state_times_risk_and_incident_counts(platform):
    from tests.integration.live.analysed import stream

    body = create(platform, user="u", consented=True).json()
    stream(Attempt.objects.get(pk=body["id"]), [["no_face"]] * 3 + [[]] * 3)
    answer = platform.get(f"/api/v1/attempts/{body['id']}/").json()
    assert answer["status"] == "in_progress" and answer["seconds_left"] > 0
    assert answer["open_incidents"] == 1 and answer["pending_review"] == 1
    summary = incidents.risk_summary(Attempt.objects.get(pk=body["id"]))
    assert (
        answer["risk"]["incidents"] == 1
        and answer["risk"]["no_face_percent"] == summary["no_face_percent"] > 0
    )
    assert answer["risk"]["by_kind"]["no_face"]["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_for_one_user_make_one_attempt(exam, make_key):
    key = make_key(exam)
    answers: list[int] = []
    barrier = threading.Barrier(6)

    def one() -> None:
        try:
            barrier.wait(timeout=10)
            answers.append(create(ApiClient(key), user="racer").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [200] * 5 + [201]
    assert Attempt.objects.filter(exam=Exam.objects.get(slug="algebra")).count() == 1
    assert ExternalUser.objects.count() == 1
