"""A proctor steps in (issue 20, item 4): message, pause, resume, extra time, flag, terminate,
each a POST that changes the attempt only through `exams.lifecycle`, leaves a transition with who
and why and an audit entry, answers a refused transition with 409, bounds its input (400), checks
CSRF, and is allowed to the exam's proctors and superusers only (403 for anyone else's)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from exams import lifecycle
from exams.models import Attempt, Exam, ProctorMessage, Transition
from proctoring.live import actions
from proctoring.models import AuditEntry, Incident, Severity
from proctoring.results import incidents
from proctoring.store import keys
from proctoring_site.asgi import application
from tests.communicators import session_headers
from tests.roles import bare_staff, proctor_of, superuser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running(attempt: Attempt) -> Attempt:
    """The attempt, its clock started (in progress)."""
    return lifecycle.apply(attempt, lifecycle.Action.BEGIN).attempt


@pytest.fixture
def proctor(exam: Exam) -> Any:
    return proctor_of(exam)


@pytest.fixture
def desk(proctor: Any) -> Client:
    client = Client()
    client.force_login(proctor)
    return client


def url(attempt: Attempt, action: str) -> str:
    return f"/proctor/attempts/{attempt.pk}/{action}/"


def fresh(attempt: Attempt) -> Attempt:
    return Attempt.objects.get(pk=attempt.pk)


def last_audit() -> AuditEntry:
    return AuditEntry.objects.order_by("-pk").first()  # type: ignore[return-value]


def last_transition(attempt: Attempt) -> Transition:
    return attempt.transitions.order_by("-at", "-pk").first()  # type: ignore[return-value]


def published(pubsub: Any, deadline: float = 5.0) -> list[dict[str, Any]]:
    """The envelopes published for the gateways, until none comes for a moment."""
    got: list[dict[str, Any]] = []
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        message = pubsub.get_message(timeout=0.2)
        if message is None:
            if got:
                return got
            continue
        if message["type"] == "message":
            got.append(json.loads(message["data"]))
    return got


def test_a_message_is_stored_and_published_to_the_exam_page(desk, proctor, running, redis_conn):
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(keys.attempt_control_channel())
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    response = desk.post(url(running, "message"), {"body": "  Please look at the screen.  "})
    assert response.status_code == 302 and response["Location"] == f"/proctor/attempts/{running.pk}/"
    [message] = ProctorMessage.objects.filter(attempt=running)
    assert (message.body, message.sender, message.read_at) == ("Please look at the screen.", proctor, None)
    [envelope] = published(pubsub)
    assert envelope["attempt"] == str(running.pk) and not envelope["final"]
    payload = json.loads(envelope["payload"])
    assert (payload["type"], payload["id"], payload["body"]) == ("message", message.pk, message.body)
    entry = last_audit()
    assert (entry.action, entry.actor, entry.outcome, entry.target_id) == (
        "attempt.message_sent", proctor, "ok", str(running.pk),
    )  # fmt: skip
    assert entry.detail["body"] == message.body and entry.exam == running.exam
    page = desk.get(f"/proctor/attempts/{running.pk}/").content.decode()
    assert "Please look at the screen." in page and "not read yet" in page


def test_pause_and_resume_go_through_the_lifecycle_with_who_and_why(desk, proctor, running):
    response = desk.post(url(running, "pause"), {"reason": "your phone is on the desk"})
    assert response.status_code == 302
    paused = fresh(running)
    assert paused.status == "paused" and paused.paused_at is not None
    step = last_transition(running)
    assert (step.action, step.from_status, step.to_status, step.by, step.reason) == (
        "pause", "in_progress", "paused", proctor, "your phone is on the desk",
    )  # fmt: skip
    assert (last_audit().action, last_audit().detail["reason"]) == (
        "attempt.paused",
        "your phone is on the desk",
    )
    page = desk.get(f"/proctor/attempts/{running.pk}/").content.decode()
    assert 'data-status="paused"' in page and "(stopped while paused)" in page
    assert ">Resume</button>" in page and ">Pause</button>" not in page

    assert desk.post(url(running, "resume"), {}).status_code == 302
    resumed = fresh(running)
    assert resumed.status == "in_progress" and resumed.paused_at is None and resumed.paused_seconds > 0
    step = last_transition(running)
    assert (step.action, step.to_status, step.by) == ("resume", "in_progress", proctor)
    assert last_audit().action == "attempt.resumed"


def test_extra_time_moves_the_deadline_and_is_recorded(desk, proctor, running):
    before = fresh(running).seconds_left(running.consented_at)
    assert before is not None
    response = desk.post(url(running, "extend"), {"minutes": "15", "reason": "a fire alarm"})
    assert response.status_code == 302
    extended = fresh(running)
    assert extended.extra_seconds == 900
    assert extended.seconds_left(running.consented_at) == before + 900
    step = last_transition(running)
    assert (step.action, step.extra_seconds, step.by, step.reason, step.to_status) == (
        "extend", 900, proctor, "a fire alarm", "in_progress",
    )  # fmt: skip
    assert (last_audit().action, last_audit().detail["extra_seconds"]) == ("attempt.time_extended", 900)


def test_a_flag_is_an_incident_of_its_own_kind_with_the_proctors_comment(desk, proctor, running):
    assert desk.post(url(running, "flag"), {"comment": "someone whispers"}).status_code == 302
    [incident] = Incident.objects.filter(attempt=running)
    assert (incident.kind, incident.severity, incident.flagged_by, incident.comment) == (
        incidents.PROCTOR_FLAG, Severity.HIGH, proctor, "someone whispers",
    )  # fmt: skip
    assert incident.first_seen == incident.last_seen and incident.frame_count == 0
    assert incident.closed_at is None and incident.review_status == "pending"
    assert (last_audit().action, last_audit().detail["incident"]) == ("attempt.flagged", incident.pk)
    page = desk.get(f"/proctor/attempts/{running.pk}/").content.decode()
    assert (
        f'id="incident-{incident.pk}"' in page and "flagged by proctor" in page and "someone whispers" in page
    )


def test_a_flag_on_an_ended_attempt_is_born_closed(proctor, running):
    ended = lifecycle.apply(running, lifecycle.Action.SUBMIT).attempt
    incident = actions.flag(ended, proctor, "seen on the recording")
    assert incident.closed_at is not None


def test_terminate_ends_the_attempt_with_its_reason(desk, proctor, running):
    assert desk.post(url(running, "terminate"), {"reason": "a second person helped"}).status_code == 302
    ended = fresh(running)
    assert (ended.status, ended.end_reason) == ("terminated", "a second person helped")
    assert ended.ended_at is not None
    step = last_transition(running)
    assert (step.action, step.from_status, step.to_status, step.by, step.reason) == (
        "terminate", "in_progress", "terminated", proctor, "a second person helped",
    )  # fmt: skip
    assert last_audit().action == "attempt.terminated"
    page = desk.get(f"/proctor/attempts/{running.pk}/").content.decode()
    assert ">Terminate</button>" not in page and "a second person helped" in page


def test_a_refused_transition_is_a_409_with_its_reason_and_changes_nothing(desk, running):
    response = desk.post(url(running, "resume"), {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    answer = response.json()
    assert answer["ok"] is False and "cannot resume an attempt that is in progress" in answer["error"]
    assert answer["status"] == "in_progress"
    assert fresh(running).status == "in_progress" and last_transition(running).action == "begin"
    entry = last_audit()
    assert (entry.action, entry.outcome) == ("attempt.resumed", "error") and "cannot resume" in entry.detail[
        "error"
    ]
    # A form (no JSON) gets a page saying why, with the same status.
    lifecycle.apply(running, lifecycle.Action.TERMINATE, reason="over")
    page = desk.post(url(running, "pause"), {"reason": "too late"})
    assert (
        page.status_code == 409
        and "cannot pause an attempt that is terminated" in page.content.decode().lower()
    )
    message = desk.post(url(running, "message"), {"body": "hello?"})
    assert message.status_code == 409 and not ProctorMessage.objects.exists()


def test_the_grid_menu_gets_json_with_the_new_state(desk, running):
    response = desk.post(url(running, "pause"), {"reason": ""}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert (answer["ok"], answer["status"], answer["said"]) == (True, "paused", "Paused.")
    assert 0 < answer["seconds_left"] <= running.exam.duration_minutes * 60


@pytest.mark.parametrize(
    "action, data, error",
    [
        ("message", {"body": ""}, "a message is required"),
        ("message", {"body": "x" * (actions.MESSAGE_MAX + 1)}, "at most 1000"),
        ("pause", {"reason": "x" * (actions.REASON_MAX + 1)}, "at most 500"),
        ("extend", {"minutes": "0"}, "between 1 and 240"),
        ("extend", {"minutes": "241"}, "between 1 and 240"),
        ("extend", {"minutes": "1e3"}, "whole number"),
        ("flag", {"comment": ""}, "a comment is required"),
        ("terminate", {"reason": "   "}, "a reason is required"),
        ("terminate", {"reason": "x" * (actions.REASON_MAX + 1)}, "at most 500"),
    ],
)
def test_input_out_of_bounds_is_a_400_and_changes_nothing(desk, running, action, data, error):
    response = desk.post(url(running, action), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and error in response.json()["error"]
    after = fresh(running)
    assert (after.status, after.extra_seconds) == ("in_progress", 0)
    assert not ProctorMessage.objects.exists() and not Incident.objects.exists()
    assert last_transition(running).action == "begin"
    assert last_audit().outcome == "error"


def test_the_bounds_are_inclusive(desk, running):
    assert desk.post(url(running, "message"), {"body": "x" * actions.MESSAGE_MAX}).status_code == 302
    assert desk.post(url(running, "extend"), {"minutes": "240"}).status_code == 302
    assert desk.post(url(running, "extend"), {"minutes": "1"}).status_code == 302
    assert fresh(running).extra_seconds == 241 * 60


ACTIONS = {
    "message": {"body": "hi"},
    "pause": {"reason": "why"},
    "extend": {"minutes": "5"},
    "flag": {"comment": "look"},
    "terminate": {"reason": "over"},
}


def nothing_changed(attempt: Attempt) -> bool:
    after = fresh(attempt)
    return (
        after.status == "in_progress"
        and after.extra_seconds == 0
        and not ProctorMessage.objects.filter(attempt=attempt).exists()
        and not Incident.objects.filter(attempt=attempt).exists()
    )


@pytest.mark.parametrize("action", ACTIONS)
def test_a_proctor_of_another_exam_gets_403_and_changes_nothing(running, action):
    biology = Exam.objects.create(slug="biology", title="Biology")
    client = Client()
    client.force_login(proctor_of(biology, username="bio"))
    assert client.post(url(running, action), ACTIONS[action]).status_code == 403
    assert nothing_changed(running)
    entry = last_audit()
    assert (entry.action, entry.outcome, entry.target_id) == ("access.refused", "refused", str(running.pk))


@pytest.mark.parametrize("action", ACTIONS)
def test_staff_with_no_role_get_403_and_an_exam_taker_the_login(running, user, action):
    client = Client()
    client.force_login(bare_staff())
    assert client.post(url(running, action), ACTIONS[action]).status_code == 403
    taker = Client()
    taker.force_login(user)
    response = taker.post(url(running, action), ACTIONS[action])
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert nothing_changed(running)


def test_an_attempt_that_does_not_exist_is_403_as_another_exams(desk):
    assert desk.post("/proctor/attempts/00000000-0000-4000-8000-000000000000/pause/", {}).status_code == 403


def test_a_superuser_may_act_on_any_exam(running):
    client = Client()
    client.force_login(superuser())
    assert client.post(url(running, "pause"), {"reason": "checking"}).status_code == 302
    assert fresh(running).status == "paused"


def test_an_action_is_a_post(desk, running):
    assert desk.get(url(running, "terminate"), {"reason": "over"}).status_code == 405
    assert fresh(running).status == "in_progress"


def test_an_action_without_the_csrf_token_is_refused(proctor, running):
    client = Client(enforce_csrf_checks=True)
    client.force_login(proctor)
    assert client.post(url(running, "terminate"), {"reason": "forged"}).status_code == 403
    assert fresh(running).status == "in_progress"
    page = client.get(f"/proctor/attempts/{running.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(url(running, "terminate"), {"reason": "real", "csrfmiddlewaretoken": token.group(1)})
    assert answer.status_code == 302 and fresh(running).status == "terminated"


def test_the_form_goes_back_to_a_proctor_page_only(desk, running):
    grid = f"/proctor/exams/{running.exam.slug}/"
    assert desk.post(url(running, "extend"), {"minutes": "1", "back": grid})["Location"] == grid
    away = desk.post(url(running, "extend"), {"minutes": "1", "back": "https://evil.example/"})
    assert away["Location"] == f"/proctor/attempts/{running.pk}/"


def test_an_overdue_attempt_times_out_instead_of_pausing(desk, running):
    Attempt.objects.filter(pk=running.pk).update(
        time_limit_seconds=1, consented_at=running.consented_at.replace(year=2020)
    )
    response = desk.post(url(running, "pause"), {"reason": "late"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and "timed out" in response.json()["error"]
    assert fresh(running).status == "timed_out"


def test_the_grid_shows_status_and_time_left_and_drops_an_ended_attempt_live(proctor, running):
    """Paused and ended by the lifecycle (as a proctor, the deadline or a submit would), the
    grid's socket sends the paused row, then names the ended attempt in `gone`."""
    headers = session_headers(proctor)

    async def run() -> tuple[dict[str, Any], list[str]]:
        from channels.db import database_sync_to_async

        grid = WebsocketCommunicator(application, f"/ws/proctor/exams/{running.exam.slug}/", headers)
        assert (await grid.connect(timeout=5))[0]
        try:
            await database_sync_to_async(lifecycle.apply)(running, lifecycle.Action.PAUSE, reason="wait")
            paused: dict[str, Any] = {}
            while not paused:
                message = await grid.receive_json_from(timeout=10)
                rows = message.get("rows", []) if message["type"] == "rows" else []
                paused = next((row for row in rows if row["status"] == "paused"), {})
            await database_sync_to_async(lifecycle.apply)(running, lifecycle.Action.TERMINATE, reason="x")
            while True:
                message = await grid.receive_json_from(timeout=10)
                if message["type"] == "rows" and message["gone"]:
                    return paused, message["gone"]
        finally:
            await grid.disconnect()

    paused, gone = async_to_sync(run)()
    assert (paused["attempt_id"], paused["status_label"]) == (str(running.pk), "Paused")
    assert 0 < paused["seconds_left"] <= running.exam.duration_minutes * 60
    assert gone == [str(running.pk)]


def test_the_grid_page_has_a_menu_per_card_and_no_ended_attempt(desk, running, user):
    other = Attempt.objects.create(user=get_user_model().objects.create_user("b"), exam=running.exam)
    lifecycle.apply(other, lifecycle.Action.TERMINATE, reason="gone")
    lifecycle.apply(running, lifecycle.Action.PAUSE)
    page = desk.get(f"/proctor/exams/{running.exam.slug}/").content.decode()
    assert f'data-attempt="{other.pk}"' not in page
    card = page[page.index(f'data-attempt="{running.pk}"') :]
    card = card[: card.index("</article>")]
    assert (
        'data-status="paused"' in card
        and '<span class="status-badge" data-field="status">Paused</span>' in card
    )
    assert f'action="/proctor/attempts/{running.pk}/terminate/"' in card and "csrfmiddlewaretoken" in card
    assert "<details" in card and "<details open" not in card  # folded: thirty cards stay one glance


def test_the_time_left_reads_as_a_clock():
    from proctoring.live import dashboard

    assert [dashboard.clock(s) for s in (None, -3, 59.6, 605, 3599, 3600, 5400)] == [
        "–", "0:00", "1:00", "10:05", "59:59", "1:00:00", "1:30:00",
    ]  # fmt: skip
