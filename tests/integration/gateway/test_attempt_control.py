"""The camera socket hears its attempt's life: its state at connect and at every change, the
proctor's messages (through the real Redis pub/sub of `proctoring.gateway.control`), `message_read`,
and the end: a final state, close code 4410, and no new socket or token for the attempt."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.utils import timezone

from exams import lifecycle
from exams.models import Attempt, ProctorMessage, Transition
from proctoring.core.protocol import CloseCode, ErrorCode, MessageType
from proctoring.gateway import auth, control
from proctoring.gateway.tokens import make_token
from proctoring.results import attempt_control
from proctoring.store import keys
from proctoring_site.asgi import application
from tests.communicators import close_code, session_headers, token_path
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

A = lifecycle.Action


@pytest.fixture
def running(attempt: Attempt) -> Attempt:
    """The attempt in progress, as consent leaves it (a 60-minute exam)."""
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    return lifecycle.apply(attempt, A.BEGIN).attempt


async def open_socket(attempt: Attempt) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, token_path(attempt))
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def apply(attempt: Attempt, action: str, **options: Any) -> Attempt:
    outcome: lifecycle.Outcome = await database_sync_to_async(lifecycle.apply)(attempt, action, **options)
    return outcome.attempt


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    message: dict[str, Any] = await communicator.receive_json_from(timeout=5)
    return message


def test_a_socket_is_told_the_state_and_the_unread_messages_at_connect(running):
    ProctorMessage.objects.create(attempt=running, body="read already", read_at=timezone.now())
    unread = ProctorMessage.objects.create(attempt=running, body="Please face the camera")

    async def run() -> list[dict[str, Any]]:
        socket = await open_socket(running)
        told = [await receive(socket), await receive(socket)]
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return told

    state, message = async_to_sync(run)()
    assert state["type"] == MessageType.ATTEMPT and state["status"] == "in_progress"
    assert state["ended"] is False and 3590 < state["seconds_left"] <= 3600
    assert message == {
        "type": MessageType.MESSAGE,
        "id": unread.pk,
        "body": "Please face the camera",
        "sent_at": unread.sent_at.isoformat(),
    }


def test_a_change_and_a_message_published_reach_the_open_socket_and_a_paused_attempt_streams_on(running):
    async def run() -> list[dict[str, Any]]:
        socket = await open_socket(running)
        await receive(socket)  # the state at connect
        paused = await apply(running, A.PAUSE, reason="noise in the room")
        heard = [await receive(socket)]
        message = await database_sync_to_async(ProctorMessage.objects.create)(attempt=paused, body="hello")
        await database_sync_to_async(attempt_control.publish_message)(message)
        heard.append(await receive(socket))
        await socket.send_to(bytes_data=jpeg_bytes())  # the camera streams on while paused
        heard.append(await receive(socket))
        await apply(paused, A.RESUME)
        await apply(paused, A.EXTEND, extra_seconds=300)
        heard += [await receive(socket), await receive(socket)]
        await socket.disconnect()
        return heard

    paused, message, ack, resumed, extended = async_to_sync(run)()
    assert (paused["status"], paused["reason"], paused["ended"]) == ("paused", "noise in the room", False)
    assert message["type"] == MessageType.MESSAGE and message["body"] == "hello"
    assert ack["type"] == MessageType.ACK and ack["seq"] == 1
    assert resumed["status"] == "in_progress"
    assert extended["extra_seconds"] == 300 and extended["seconds_left"] > 3600


def test_terminate_sends_the_final_state_then_closes_4410_and_refuses_a_new_socket_or_token(running, user):
    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = await open_socket(running)
        await receive(socket)
        await apply(running, A.TERMINATE, reason="a second person")
        final = await receive(socket)
        closed = await socket.receive_output(timeout=5)
        return final, closed

    final, closed = async_to_sync(run)()
    assert final["type"] == MessageType.ATTEMPT
    assert (final["status"], final["ended"], final["reason"]) == ("terminated", True, "a second person")
    assert closed == {
        "type": "websocket.close",
        "code": CloseCode.ATTEMPT_ENDED,
        "reason": "this attempt has ended",
    }
    assert close_code(token_path(running)) == CloseCode.FORBIDDEN
    assert close_code(f"/ws/proctoring/{running.pk}/", session_headers(user)) == CloseCode.FORBIDDEN


def test_message_read_marks_only_a_message_of_the_sockets_own_attempt(running, exam):
    other_user = get_user_model().objects.create_user("other")
    other = Attempt.objects.create(user=other_user, exam=exam, consented_at=timezone.now())
    foreign = ProctorMessage.objects.create(attempt=other, body="not yours")
    own = ProctorMessage.objects.create(attempt=running, body="yours")

    async def run() -> list[dict[str, Any]]:
        socket = await open_socket(running)
        await receive(socket)  # the state
        await receive(socket)  # the unread message
        replies = []
        for message_id in (foreign.pk, 999_999, "7"):
            await socket.send_to(text_data=json.dumps({"type": "message_read", "id": message_id}))
            replies.append(await receive(socket))
        await socket.send_to(text_data=json.dumps({"type": "message_read", "id": own.pk}))
        await socket.send_to(bytes_data=jpeg_bytes())  # still open: the frame is acked
        replies.append(await receive(socket))
        await socket.disconnect()
        return replies

    *refused, ack = async_to_sync(run)()
    assert [(r["type"], r["code"], r["seq"]) for r in refused] == [("error", ErrorCode.BAD_MESSAGE, 0)] * 3
    assert ack["type"] == MessageType.ACK and ack["seq"] == 1, "a receipt is no frame: the first frame is 1"
    foreign.refresh_from_db()
    own.refresh_from_db()
    assert foreign.read_at is None and own.read_at is not None


def test_an_attempt_past_its_deadline_is_timed_out_and_refused_at_connect_without_its_job(running):
    Attempt.objects.filter(pk=running.pk).update(
        time_limit_seconds=60, consented_at=timezone.now() - timedelta(seconds=61)
    )
    assert close_code(token_path(running)) == CloseCode.FORBIDDEN
    running.refresh_from_db()
    assert running.status == Attempt.Status.TIMED_OUT and running.ended_at is not None
    assert Transition.objects.filter(attempt=running, action=A.TIME_OUT).count() == 1


def test_envelopes_that_are_too_large_or_malformed_are_dropped_and_the_next_one_passes(running, redis_conn):
    channel = keys.attempt_control_channel()
    good = attempt_control.state_message(running)

    async def run() -> list[dict[str, Any]]:
        socket = await open_socket(running)
        await receive(socket)
        for bad in (
            "not json",
            json.dumps(["a list"]),
            json.dumps({"attempt": str(running.pk), "payload": 7}),
            json.dumps({"attempt": str(running.pk), "payload": "x" * control.MAX_ENVELOPE_BYTES}),
        ):
            await database_sync_to_async(redis_conn.publish)(channel, bad)
        await database_sync_to_async(attempt_control.publish)(str(running.pk), good)
        heard = [await receive(socket)]
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return heard

    assert async_to_sync(run)() == [json.loads(good)]


def test_after_the_subscription_drops_each_socket_is_told_its_state_again_from_the_database(
    running, redis_conn
):
    async def run() -> dict[str, Any]:
        socket = await open_socket(running)
        await receive(socket)
        subscriptions = control.subscriber().subscriptions
        # A change nobody published (it was lost with the subscription), then the drop.
        await database_sync_to_async(Attempt.objects.filter(pk=running.pk).update)(extra_seconds=120)
        await database_sync_to_async(redis_conn.client_kill_filter)(_type="pubsub")
        told = await receive(socket)
        assert control.subscriber().subscriptions == subscriptions + 1
        await socket.disconnect()
        return told

    told = async_to_sync(run)()
    assert told["type"] == MessageType.ATTEMPT and told["extra_seconds"] == 120


def test_one_subscription_serves_every_socket_of_the_process(running, exam, redis_conn):
    other_user = get_user_model().objects.create_user("other")
    other = lifecycle.apply(Attempt.objects.create(user=other_user, exam=exam), A.BEGIN).attempt

    async def run() -> tuple[int, list[dict[str, Any]]]:
        # Two sockets of one attempt (its limit) and one of another.
        sockets = [await open_socket(running), await open_socket(running), await open_socket(other)]
        for socket in sockets:
            await receive(socket)
        channel = keys.attempt_control_channel()
        [(_, subscribers)] = await database_sync_to_async(redis_conn.pubsub_numsub)(channel)
        await apply(running, A.PAUSE)
        await apply(other, A.PAUSE)
        heard = [await receive(socket) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()
        return subscribers, heard

    subscribers, heard = async_to_sync(run)()
    assert subscribers == 1
    assert [h["status"] for h in heard] == ["paused"] * 3


def test_a_socket_of_another_attempt_hears_nothing_of_this_one(running, exam):
    other_user = get_user_model().objects.create_user("other")
    other = lifecycle.apply(Attempt.objects.create(user=other_user, exam=exam), A.BEGIN).attempt

    async def run() -> bool:
        socket = await open_socket(other)
        await receive(socket)
        await apply(running, A.TERMINATE)
        quiet: bool = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return quiet

    assert async_to_sync(run)()


def test_an_end_whose_publish_was_lost_still_closes_the_socket_at_the_next_look(running, monkeypatch):
    monkeypatch.setattr(control, "ENDED_CHECK_EVERY", 0.2)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = await open_socket(running)
        await receive(socket)
        # Ended with nothing published (as if Redis had refused the publish).
        await database_sync_to_async(Attempt.objects.filter(pk=running.pk).update)(
            status=Attempt.Status.TERMINATED, ended_at=timezone.now(), end_reason="unheard"
        )
        final = await receive(socket)
        closed = await socket.receive_output(timeout=5)
        return final, closed

    final, closed = async_to_sync(run)()
    assert (final["status"], final["ended"], final["reason"]) == ("terminated", True, "unheard")
    assert closed["type"] == "websocket.close" and closed["code"] == CloseCode.ATTEMPT_ENDED


def test_a_connect_reads_its_attempt_once_to_authorize_and_to_greet(running, django_assert_num_queries):
    """Two hundred cameras connect within a second at an exam's start, each through the one
    database thread: one row read (attempt, user, exam) and its unread messages, not a second
    read of the same row for the greeting."""
    ProctorMessage.objects.create(attempt=running, body="Please face the camera")
    with django_assert_num_queries(2):
        identity, told = auth.open_stream(str(running.pk), None, make_token(running), None)
    assert identity.attempt_id == str(running.pk) and identity.via == "token"
    assert [json.loads(message)["type"] for message in told.messages] == [
        MessageType.ATTEMPT,
        MessageType.MESSAGE,
    ]
    assert not told.ended


def test_a_refused_socket_leaves_nothing_listening_for_its_attempt(running):
    """A socket listens for its attempt's news before the attempt is read; refused, it stops,
    so forged tokens for an attempt leave no listener behind."""

    async def run() -> tuple[int, dict[str, Any]]:
        refused = WebsocketCommunicator(application, token_path(running, "forged"))
        connected, _ = await refused.connect(timeout=5)
        assert connected  # accepted to say why, then closed
        closed = await refused.receive_output(timeout=5)
        await refused.wait()
        socket = await open_socket(running)
        await receive(socket)
        listeners = {key: len(sockets) for key, sockets in control.subscriber().listeners.items()}
        await socket.disconnect()
        return int(closed["code"]), listeners

    code, listeners = async_to_sync(run)()
    assert code == CloseCode.UNAUTHENTICATED
    assert listeners == {str(running.pk): 1}


@pytest.mark.parametrize("via", ["token", "session"])
def test_a_sockets_whole_life_takes_one_trip_to_the_database_thread(running, monkeypatch, via):
    """Its connect's read (of the session's user too); not Channels' `close_old_connections`
    before each message and twice at the disconnect, nor `AuthMiddleware`'s own trip for the
    user, which two hundred cameras joining or leaving at once would queue on that thread."""
    trips: list[str] = []
    handler = DatabaseSyncToAsync.thread_handler
    if via == "token":
        path, headers = token_path(running), []
    else:
        path, headers = f"/ws/proctoring/{running.pk}/", session_headers(running.user)

    def counted(self: DatabaseSyncToAsync, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(self.func, "__name__", repr(self.func)))
        return handler(self, *args, **kwargs)

    async def run() -> list[dict[str, Any]]:
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect(timeout=5)
        assert connected
        told = [await receive(socket)]
        for _ in range(3):
            await socket.send_to(bytes_data=jpeg_bytes())
            told.append(await receive(socket))
        await socket.disconnect()
        return told

    monkeypatch.setattr(DatabaseSyncToAsync, "thread_handler", counted)
    told = async_to_sync(run)()
    assert [message["type"] for message in told] == [MessageType.ATTEMPT] + [MessageType.ACK] * 3
    assert trips == ["open_stream"]
