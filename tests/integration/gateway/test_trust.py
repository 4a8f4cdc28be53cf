"""Who a camera token lets in, what a refusal tells, where the token may travel and what the
gateway logs of what a client sent (issue 18, finding 8)."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core import signing

from exams.models import Attempt
from exams.services import end_attempt
from proctoring.core.protocol import CloseCode
from proctoring.gateway import tokens
from proctoring.gateway.tokens import make_token
from proctoring_site.asgi import application
from tests.communicators import close_code, converse, token_path
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, str]:
    """The close code and reason a connection is refused with."""

    async def run() -> tuple[int, str]:
        communicator = WebsocketCommunicator(application, path, headers=headers or [])
        connected, _ = await communicator.connect(timeout=5)
        assert connected, "a refusal is told after the handshake"
        output = await communicator.receive_output(timeout=5)
        await communicator.wait()
        assert output["type"] == "websocket.close", output
        return int(output["code"]), str(output.get("reason", ""))

    return async_to_sync(run)()


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


# --- a genuine token still obeys the attempt's state ----------------------------------------------


def test_a_token_of_a_deactivated_user_is_refused(attempt, user):
    token = make_token(attempt)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN


def test_a_token_for_a_closed_exam_is_refused(attempt, exam):
    token = make_token(attempt)
    type(exam).objects.filter(pk=exam.pk).update(is_active=False)
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN


def test_a_token_for_an_attempt_without_consent_is_refused(attempt):
    token = make_token(attempt)
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN


def test_ending_the_attempt_revokes_its_token(attempt):
    token = make_token(attempt)
    assert converse(token_path(attempt, token), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"
    end_attempt(attempt)
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN


# --- one refusal for every token that does not fit ------------------------------------------------


def test_every_token_that_does_not_fit_gets_the_same_refusal(attempt, exam, user, settings):
    other_attempt = Attempt.objects.create(user=user, exam=exam)
    other_user = get_user_model().objects.create_user("other")
    genuine = make_token(attempt)
    cases = {
        "forged": genuine[:-3] + "abc",
        "another attempt": make_token(other_attempt),
        "another user": signing.dumps({"a": str(attempt.pk), "u": other_user.pk}, salt=tokens.SALT),
        "not a token": "nonsense",
    }
    answers = {name: refusal(token_path(attempt, token)) for name, token in cases.items()}
    settings.PROCTORING_TOKEN_MAX_AGE = -1
    answers["expired"] = refusal(token_path(attempt, genuine))
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == CloseCode.UNAUTHENTICATED


# --- the token outside the URL --------------------------------------------------------------------


def test_a_token_in_the_authorization_header_streams(attempt):
    path = f"/ws/proctoring/{attempt.pk}/"
    [reply] = converse(path, [{"bytes_data": jpeg_bytes()}], bearer(make_token(attempt)))
    assert reply["type"] == "ack"


def test_a_token_in_the_query_string_still_streams(attempt):
    assert converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])[0]["type"] == "ack"


def test_a_bad_token_in_the_authorization_header_is_refused_like_any_other(attempt):
    path = f"/ws/proctoring/{attempt.pk}/"
    assert refusal(path, bearer("nonsense")) == refusal(token_path(attempt, "nonsense"))


def test_an_authorization_header_that_is_not_bearer_is_refused(attempt):
    code, reason = refusal(f"/ws/proctoring/{attempt.pk}/", [(b"authorization", b"Basic dXNlcjpwYXNz")])
    assert code == CloseCode.UNAUTHENTICATED
    assert "Bearer" in reason


# --- what the client sent is logged escaped -------------------------------------------------------


def test_an_attempt_id_from_the_url_cannot_forge_log_lines(caplog):
    caplog.set_level(logging.INFO, logger="proctoring.gateway.consumers")
    path = "/ws/proctoring/x%0AINFO forged line/?token=nonsense"
    assert close_code(path) == CloseCode.UNAUTHENTICATED
    lines = [
        record.getMessage() for record in caplog.records if record.name == "proctoring.gateway.consumers"
    ]
    assert lines, "the refusal is logged"
    assert all("\n" not in line for line in lines), lines
    assert any("'x\\nINFO forged line'" in line for line in lines), lines
