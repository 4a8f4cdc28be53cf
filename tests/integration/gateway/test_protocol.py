"""The WebSocket protocol, case by case, through Channels' WebsocketCommunicator and a real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.utils import timezone
from rq.job import Job, JobStatus

from exams.models import Attempt
from proctoring.core.protocol import CloseCode, ErrorCode
from proctoring.gateway.tokens import make_token
from proctoring.queue import envelopes
from proctoring.store import keys
from proctoring.worker import outcomes
from proctoring_site.asgi import application
from tests.communicators import close_code, converse, session_headers, token_path
from tests.support import jpeg_bytes, noise_jpeg, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


# --- frames and acks ----------------------------------------------------------------------------


def test_binary_jpeg_is_acked_after_the_job_is_in_redis(attempt, redis_conn):
    [reply] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    assert reply["type"] == "ack" and reply["seq"] == 1
    job = Job.fetch(reply["job_id"], connection=redis_conn)
    assert job.get_status() == "queued"
    stored = outcomes.load_frame(reply["job_id"])
    assert stored is not None
    meta, image = stored
    assert image == jpeg_bytes(), "frame bytes are stored as bytes, intact"
    assert (meta.client_id, meta.attempt_id, meta.seq) == (str(attempt.pk), str(attempt.pk), 1)
    assert meta.content_type == "image/jpeg"
    assert redis_conn.ttl(keys.frame(reply["job_id"])) > 0, "a frame key cannot outlive every job"
    assert redis_conn.lrange("rq:queue:proctoring", 0, -1) == [reply["job_id"].encode()]


def test_queued_job_hash_stays_compact(attempt, redis_conn):
    """Every field of the RQ job is small enough for Redis's compact hash encoding: the frame and
    its metadata live in their own key, so a queued frame costs its bytes plus well under 1 KB."""
    [reply] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    job_key = Job.key_for(reply["job_id"])
    assert redis_conn.object("encoding", job_key) in (b"listpack", b"ziplist")
    assert redis_conn.memory_usage(job_key, samples=0) < 800


def test_seq_counts_every_frame_of_the_connection_from_one(attempt):
    replies = converse(
        token_path(attempt),
        [{"bytes_data": jpeg_bytes()}, {"text_data": "nonsense"}, {"bytes_data": png_bytes()}],
    )
    assert [r["seq"] for r in replies] == [1, 2, 3]
    assert [r["type"] for r in replies] == ["ack", "error", "ack"]


def test_json_frames_with_base64_or_data_url_are_accepted(attempt, redis_conn):
    encoded = base64.b64encode(jpeg_bytes()).decode()
    replies = converse(
        token_path(attempt),
        [
            {"text_data": json.dumps({"type": "frame", "image": encoded})},
            {"text_data": json.dumps({"type": "frame", "image": f"data:image/jpeg;base64,{encoded}"})},
        ],
    )
    assert [r["type"] for r in replies] == ["ack", "ack"]
    assert outcomes.load_frame(replies[1]["job_id"]) == (
        envelopes.read_meta(replies[1]["job_id"]),
        jpeg_bytes(),
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"text_data": "not json"}, ErrorCode.BAD_MESSAGE),
        ({"text_data": json.dumps({"type": "hello"})}, ErrorCode.BAD_MESSAGE),
        ({"text_data": json.dumps(["frame"])}, ErrorCode.BAD_MESSAGE),
        ({"text_data": json.dumps({"type": "frame"})}, ErrorCode.BAD_MESSAGE),
        ({"text_data": json.dumps({"type": "frame", "image": "%%%not-base64"})}, ErrorCode.BAD_FRAME),
        ({"bytes_data": b"GIF89a not a jpeg"}, ErrorCode.BAD_FRAME),
        ({"bytes_data": jpeg_bytes()[:200]}, ErrorCode.BAD_FRAME),
        ({"bytes_data": b"\xff\xd8\xff\xd9"}, ErrorCode.BAD_FRAME),
    ],
    ids=[
        "not-json",
        "unknown-type",
        "json-array",
        "no-image",
        "bad-base64",
        "gif",
        "truncated",
        "markers-only",
    ],
)
def test_bad_input_gets_its_error_code_and_the_socket_keeps_serving(attempt, redis_conn, message, code):
    replies = converse(token_path(attempt), [message, {"bytes_data": jpeg_bytes()}])
    assert replies[0]["type"] == "error"
    assert replies[0]["code"] == code
    assert replies[0]["seq"] == 1 and replies[0]["detail"]
    assert replies[1]["type"] == "ack", "the socket stays open after a per-frame error"
    assert redis_conn.llen("rq:queue:proctoring") == 1, "nothing was enqueued for the bad message"


def test_frame_over_the_limit_is_refused_as_too_large(attempt, settings, redis_conn):
    settings.PROCTORING_MAX_FRAME_BYTES = 2000
    big = jpeg_bytes(400, 300, (1, 2, 3))
    noisy = big + b"\0" * 3000  # over the limit whatever the encoder made
    replies = converse(
        token_path(attempt),
        [
            {"bytes_data": noisy},
            {"text_data": json.dumps({"type": "frame", "image": base64.b64encode(noisy).decode()})},
        ],
    )
    assert [r["code"] for r in replies] == [ErrorCode.FRAME_TOO_LARGE, ErrorCode.FRAME_TOO_LARGE]
    assert redis_conn.llen("rq:queue:proctoring") == 0


def test_eleventh_pending_frame_is_rate_limited_and_not_enqueued(attempt, redis_conn):
    replies = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}] * 11)
    assert [r["type"] for r in replies[:10]] == ["ack"] * 10
    assert replies[10]["type"] == "error" and replies[10]["code"] == ErrorCode.RATE_LIMITED
    assert redis_conn.llen("rq:queue:proctoring") == 10
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == 10


def test_pending_limit_is_per_client(attempt, exam, redis_conn, settings):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 1
    other = Attempt.objects.create(
        user=get_user_model().objects.create_user("other"), exam=exam, consented_at=timezone.now()
    )
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"
    assert converse(token_path(other), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["code"] == ErrorCode.RATE_LIMITED


def test_slot_of_a_job_that_no_longer_exists_is_reclaimed(attempt, redis_conn, settings):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 1
    [first] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    redis_conn.delete(Job.key_for(first["job_id"]))  # e.g. an operator deleted the job
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"


@pytest.mark.parametrize("status", ["failed", "finished", "stopped", "canceled"])
def test_slot_of_a_job_that_is_over_but_never_released_is_reclaimed(attempt, redis_conn, settings, status):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 1
    [first] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    # As when a worker dies mid-job and RQ's cleanup fails the job without our callback.
    Job.fetch(first["job_id"], connection=redis_conn).set_status(JobStatus(status))
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"


def test_slot_of_a_running_job_is_kept(attempt, redis_conn, settings):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 1
    [first] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    Job.fetch(first["job_id"], connection=redis_conn).set_status(JobStatus.STARTED)
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["code"] == ErrorCode.RATE_LIMITED


def test_redis_refusing_the_job_is_reported_as_unavailable_not_acked(attempt, redis_conn, settings):
    settings.PROCTORING_MAX_PENDING_PER_CLIENT = 5
    redis_conn.config_set("maxmemory", "1mb")
    redis_conn.config_set("maxmemory-policy", "noeviction")
    try:
        big_frame = noise_jpeg(640, 480)  # about 400 KB
        replies = converse(token_path(attempt), [{"bytes_data": big_frame}] * 3)
    finally:
        redis_conn.config_set("maxmemory", "0")
    codes = [r.get("code") for r in replies]
    assert ErrorCode.UNAVAILABLE in codes, replies
    acked = [r["job_id"] for r in replies if r["type"] == "ack"]
    assert redis_conn.llen("rq:queue:proctoring") == len(acked), "every ack is a queued job, nothing more"
    assert redis_conn.zcard(keys.client_pending(str(attempt.pk))) == len(acked), (
        "refused frames free their slot"
    )


# --- who may stream -----------------------------------------------------------------------------


def test_session_owner_from_an_allowed_origin_may_stream(attempt, user):
    [reply] = converse(f"/ws/proctoring/{attempt.pk}/", [{"bytes_data": jpeg_bytes()}], session_headers(user))
    assert reply["type"] == "ack"


@pytest.mark.parametrize("origin", ["http://evil.example", None], ids=["foreign-origin", "no-origin"])
def test_session_from_a_foreign_or_missing_origin_is_refused(attempt, user, origin):
    assert close_code(f"/ws/proctoring/{attempt.pk}/", session_headers(user, origin)) == CloseCode.FORBIDDEN


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://testserver:8000", "testserver:8000"),
        ("http://testserver:8001", "testserver:8000"),
        ("http://testserver", "testserver:8000"),
        ("http://testserver:8000", "testserver"),
    ],
    ids=["same-origin", "another-port", "default-port-page", "default-port-socket"],
)
def test_a_session_streams_only_from_a_page_of_the_sockets_own_host_and_port(attempt, user, origin, host):
    """Browsers send a site's cookies to its sockets from a page on any port of its host: the
    origin must be the socket's own host and port, not only a host of ALLOWED_HOSTS."""
    path, headers = f"/ws/proctoring/{attempt.pk}/", session_headers(user, origin, host)
    if origin.removeprefix("http://") == host:
        [reply] = converse(path, [{"bytes_data": jpeg_bytes()}], headers)
        assert reply["type"] == "ack"
    else:
        assert close_code(path, headers) == CloseCode.FORBIDDEN


def test_a_session_from_a_csrf_trusted_origin_streams(attempt, user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["http://testserver:8001"]
    headers = session_headers(user, "http://testserver:8001", "testserver:8000")
    [reply] = converse(f"/ws/proctoring/{attempt.pk}/", [{"bytes_data": jpeg_bytes()}], headers)
    assert reply["type"] == "ack"


def test_anonymous_without_token_is_refused(attempt):
    assert close_code(f"/ws/proctoring/{attempt.pk}/", [(b"origin", b"http://testserver")]) == (
        CloseCode.UNAUTHENTICATED
    )


def test_session_user_cannot_stream_for_another_users_attempt(attempt, exam):
    intruder = get_user_model().objects.create_user("intruder")
    assert close_code(f"/ws/proctoring/{attempt.pk}/", session_headers(intruder)) == CloseCode.FORBIDDEN


def test_forged_token_is_refused(attempt):
    forged = make_token(attempt)[:-3] + "abc"
    assert close_code(token_path(attempt, forged)) == CloseCode.UNAUTHENTICATED


def test_expired_token_is_refused(attempt, settings):
    token = make_token(attempt)
    settings.PROCTORING_TOKEN_MAX_AGE = -1
    assert close_code(token_path(attempt, token)) == CloseCode.UNAUTHENTICATED


def test_token_of_another_attempt_is_refused(attempt, exam, user):
    other = Attempt.objects.create(user=user, exam=exam)
    assert close_code(f"/ws/proctoring/{attempt.pk}/?token={make_token(other)}") == CloseCode.UNAUTHENTICATED


def test_token_of_an_ended_attempt_is_refused(attempt):
    token = make_token(attempt)
    Attempt.objects.filter(pk=attempt.pk).update(ended_at=timezone.now())
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN


@pytest.mark.parametrize("attempt_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_attempt_is_refused(attempt_id, user):
    assert close_code(f"/ws/proctoring/{attempt_id}/", session_headers(user)) == CloseCode.FORBIDDEN


def test_a_session_stream_without_consent_is_refused(exam, user):
    attempt = Attempt.objects.create(user=user, exam=exam)  # consent not given yet
    assert close_code(f"/ws/proctoring/{attempt.pk}/", session_headers(user)) == CloseCode.FORBIDDEN
    attempt.consented_at = timezone.now()
    attempt.save()
    [reply] = converse(f"/ws/proctoring/{attempt.pk}/", [{"bytes_data": jpeg_bytes()}], session_headers(user))
    assert reply["type"] == "ack"


def test_the_ack_carries_the_calm_hint_of_the_latest_analysed_frame(attempt, redis_conn):
    image = {"bytes_data": jpeg_bytes()}
    [plain] = converse(token_path(attempt), [image])
    assert "hint" not in plain
    outcomes.finish_delivered(str(attempt.pk), "0" * 32, flagged=True, hint="face_not_visible")
    [hinted] = converse(token_path(attempt), [image])
    assert hinted["hint"] == "face_not_visible"
    assert 0 < redis_conn.ttl(keys.client_hint(str(attempt.pk))) <= outcomes.HINT_TTL
    outcomes.finish_delivered(str(attempt.pk), "1" * 32)  # a clean frame clears it
    [calm] = converse(token_path(attempt), [image])
    assert "hint" not in calm


def test_a_silent_socket_is_closed_as_idle_and_a_talking_one_is_not(attempt, settings):
    settings.PROCTORING_IDLE_TIMEOUT = 0.5

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        communicator = WebsocketCommunicator(application, token_path(attempt))
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        for _ in range(3):  # talking every 0.3 s keeps it open past the timeout
            await asyncio.sleep(0.3)
            await communicator.send_to(bytes_data=jpeg_bytes())
            ack = await communicator.receive_json_from(timeout=5)
        closed = await communicator.receive_output(timeout=5)  # then silence
        await communicator.wait()
        return ack, closed

    ack, closed = async_to_sync(run)()
    assert ack["type"] == "ack" and ack["seq"] == 3
    assert (closed["type"], closed["code"]) == ("websocket.close", CloseCode.IDLE)
    assert closed["reason"] == "nothing received for 0.5 s"
