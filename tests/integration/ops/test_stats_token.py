"""What the bearer token (PROCTORING_STATS_TOKEN) reads: the queue's aggregates, never who is
taking which exam; and that no token, however odd its bytes, gets more than a refusal."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue as enqueuing
from tests.roles import operator
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "monitoring-token-0123456789"


@pytest.fixture
def token(settings: Any) -> str:
    settings.PROCTORING_STATS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def busy_attempt(attempt: Any) -> Any:
    """An attempt with frames waiting, so that it has a client row to leak."""
    for seq in range(2):
        enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, parse_image(jpeg_bytes(), 1 << 20))
    return attempt


@pytest.mark.parametrize("url", ["/proctoring/stats.json", "/proctoring/stats.json?clients=50", "/metrics"])
def test_the_token_reads_no_username_attempt_or_exam(
    client: Client, token: str, busy_attempt: Any, url: str
) -> None:
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    body = response.content.decode()
    for secret in (
        busy_attempt.user.username,
        str(busy_attempt.pk),
        busy_attempt.pk.hex,
        busy_attempt.exam.slug,
    ):
        assert secret not in body, f"{secret!r} shown to the token holder"
    if url.startswith("/proctoring/stats.json"):
        # The aggregates are still there: what a monitoring system is for.
        assert response.json()["queue"]["queued"] == 2


def test_staff_still_read_the_per_client_rows(client: Client, token: str, busy_attempt: Any) -> None:
    client.force_login(operator("ops", operate=False))
    rows = client.get("/proctoring/stats.json").json()["clients"]
    assert [(row["client"], row["user"], row["exam"]) for row in rows] == [
        (str(busy_attempt.pk), busy_attempt.user.username, busy_attempt.exam.slug)
    ]


@pytest.mark.parametrize("url", ["/proctoring/stats.json", "/metrics"])
@pytest.mark.parametrize("given", ["tökén-0123456789-monitoring", "монитор-токен-0123456789", "\udcff" * 20])
def test_a_non_ascii_token_is_refused_not_an_error(client: Client, token: str, url: str, given: str) -> None:
    client.raise_request_exception = False  # a 500 must show as a 500, not as the test's exception
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {given}").status_code == 401
