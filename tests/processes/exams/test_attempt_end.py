"""An attempt's end with real processes: the server's clock ends an attempt with no browser open
(a `backgroundworker` with its scheduler runs the deadline job), and frames acked before an end
all reach the API and are stored, though the camera socket was closed with 4410."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exams import lifecycle
from exams.models import Attempt, Transition
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

A = lifecycle.Action


@pytest.fixture
def running(attempt: Attempt) -> Attempt:
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    return lifecycle.apply(attempt, A.BEGIN).attempt


def test_the_server_times_out_an_attempt_at_its_deadline_with_no_page_open(running, start_background_worker):
    worker = start_background_worker()
    # A 2-second exam; granting 1 s more is an action that schedules the deadline job.
    Attempt.objects.filter(pk=running.pk).update(time_limit_seconds=2)
    extended = lifecycle.apply(running, A.EXTEND, extra_seconds=1).attempt
    assert extended.consented_at is not None
    deadline = extended.deadline(extended.consented_at)
    ended = wait_until(
        lambda: Attempt.objects.filter(pk=running.pk, status=Attempt.Status.TIMED_OUT).first(),
        20,
        "timed out by the server",
        interval=0.2,
    )
    assert ended.ended_at >= deadline
    transition = Transition.objects.get(attempt=running, action=A.TIME_OUT)
    assert transition.by is None and transition.reason == "the time limit was reached"
    assert "exams.jobs.enforce_deadline" in worker.log()


def test_an_open_camera_socket_hears_the_time_out_and_is_closed_with_4410(
    running, start_background_worker, start_daphne
):
    start_background_worker()
    _, port = start_daphne()
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{running.pk}/?token={make_token(running)}"
    with connect(url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["status"] == "in_progress"
        Attempt.objects.filter(pk=running.pk).update(time_limit_seconds=2)
        lifecycle.apply(running, A.EXTEND, extra_seconds=1)
        extended = json.loads(ws.recv(timeout=10))
        final = json.loads(ws.recv(timeout=20))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert extended["extra_seconds"] == 1 and extended["ended"] is False
    assert (final["status"], final["ended"], final["seconds_left"]) == ("timed_out", True, None)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.ATTEMPT_ENDED


def test_frames_acked_before_the_end_all_reach_the_api_and_are_stored(
    running, api, start_daphne, start_worker
):
    _, port = start_daphne()
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{running.pk}/?token={make_token(running)}"
    with connect(url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["status"] == "in_progress"
        acks = []
        for _ in range(5):
            ws.send(jpeg_bytes())
            reply = json.loads(ws.recv(timeout=10))
            while reply["type"] != "ack":  # a throttle advice may come between
                reply = json.loads(ws.recv(timeout=10))
            acks.append(reply)
        lifecycle.apply(running, A.TERMINATE, reason="the proctor ended it")
        final = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (final["type"], final["status"], final["ended"]) == ("attempt", "terminated", True)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.ATTEMPT_ENDED
    # Latest-frame-wins may let a newer frame take an older one's place: that one is not owed.
    replaced = {ack["replaced"] for ack in acks if ack.get("replaced")}
    owed = {ack["job_id"] for ack in acks} - replaced
    start_worker()  # only now: every frame was still queued when the attempt ended
    wait_until(lambda: FrameResult.objects.filter(attempt=running).count() == len(owed), 30, "all stored")
    assert {call.headers["Idempotency-Key"] for call in api.calls} == owed
    assert set(FrameResult.objects.filter(attempt=running).values_list("job_id", flat=True)) == owed
