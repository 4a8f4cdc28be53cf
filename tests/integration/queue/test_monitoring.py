"""/metrics (Prometheus) and /proctoring/stats.json: who may read them, and that the series
follow what really happened (frames through the real consumer, a real worker).

Here the tests that need no process;
the others are in tests/processes/queue/test_monitoring.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.roles import bare_staff, operator

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "monitoring-token-0123456789"


@pytest.fixture
def token(settings: Any) -> str:
    settings.PROCTORING_STATS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.parametrize("url", ["/metrics", "/proctoring/stats.json"])
def test_readers_need_staff_or_the_token(client: Client, user: Any, token: str, url: str) -> None:
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong-token-0123456789").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    client.force_login(user)  # an exam taker
    assert client.get(url).status_code == 401
    client.force_login(bare_staff("nobody"))  # staff without the queue's view permission
    assert client.get(url).status_code == 403
    client.force_login(operator("ops", operate=False))
    assert client.get(url).status_code == 200


def test_without_a_token_configured_only_staff_reads(client: Client, settings: Any) -> None:
    settings.PROCTORING_STATS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
