"""Connection limits per IP address and per attempt, counted in Redis across every gateway."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from exams.models import Attempt
from proctoring.core.protocol import CloseCode
from proctoring.gateway import connection_limits
from proctoring.gateway.tokens import make_token
from proctoring.store import keys
from tests.support import jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _url(port: int, attempt: Attempt) -> str:
    return f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"


def _streaming(ws: ClientConnection) -> bool:
    """An admitted socket acks a frame."""
    ws.send(jpeg_bytes())
    return bool(json.loads(ws.recv(timeout=10))["type"] == "ack")


def _close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def _attempts(exam: Any, count: int) -> list[Attempt]:
    users = get_user_model()
    return [
        Attempt.objects.create(
            user=users.objects.create_user(f"taker-{i}"), exam=exam, consented_at=timezone.now()
        )
        for i in range(count)
    ]


def test_an_attempt_gets_two_sockets_across_two_gateways_and_a_third_is_refused(
    attempt, start_daphne, redis_conn
):
    _, first = start_daphne()
    _, second = start_daphne()
    with ExitStack() as stack:
        a = stack.enter_context(connect(_url(first, attempt), open_timeout=10))
        b = stack.enter_context(connect(_url(second, attempt), open_timeout=10))
        assert _streaming(a) and _streaming(b)
        with connect(_url(first, attempt), open_timeout=10) as third:
            assert _close_code(third) == CloseCode.TOO_MANY_CONNECTIONS
        b.close()
        # The closed socket's place is given back at once (not when its lease runs out).
        wait_until(lambda: redis_conn.zcard(keys.connections_of_attempt(str(attempt.pk))) == 1, 10, "freed")
        with connect(_url(second, attempt), open_timeout=10) as again:
            assert _streaming(again)


def test_one_address_gets_its_limit_of_sockets_over_all_attempts(exam, start_daphne):
    _, port = start_daphne(PROCTORING_MAX_CONNECTIONS_PER_IP="3")
    first, second, third, fourth = _attempts(exam, 4)
    with ExitStack() as stack:
        for attempt in (first, second, third):
            assert _streaming(stack.enter_context(connect(_url(port, attempt), open_timeout=10)))
        with connect(_url(port, fourth), open_timeout=10) as refused:
            assert _close_code(refused) == CloseCode.TOO_MANY_CONNECTIONS


def test_no_limit_when_both_are_zero(exam, start_daphne):
    _, port = start_daphne(PROCTORING_MAX_CONNECTIONS_PER_IP="0", PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT="0")
    (attempt,) = _attempts(exam, 1)
    with ExitStack() as stack:
        for _ in range(4):
            assert _streaming(stack.enter_context(connect(_url(port, attempt), open_timeout=10)))


@pytest.mark.django_db
def test_a_place_left_by_a_dead_gateway_expires_with_its_lease(redis_conn, settings):
    """A gateway killed with its sockets open never gives their places back: they run out."""
    from asgiref.sync import async_to_sync

    settings.PROCTORING_MAX_CONNECTIONS_PER_IP = 0
    settings.PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT = 1
    key = keys.connections_of_attempt("a1")
    redis_conn.zadd(key, {"dead-gateways-socket": time.time() + 30})

    async def admit() -> Any:
        try:
            return await connection_limits.admit("127.0.0.1", "a1")
        except connection_limits.TooManyConnections as exc:
            return exc

    assert isinstance(async_to_sync(admit)(), connection_limits.TooManyConnections)
    redis_conn.zadd(key, {"dead-gateways-socket": time.time() - 1})  # its lease ran out
    slot = async_to_sync(admit)()
    assert isinstance(slot, connection_limits.Slot)
    assert redis_conn.zrange(key, 0, -1) == [slot.member.encode()]
    assert 0 < redis_conn.ttl(key) <= connection_limits.LEASE_SECONDS
    async_to_sync(connection_limits.release)(slot)
    assert not redis_conn.exists(key)
