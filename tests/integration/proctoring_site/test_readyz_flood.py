"""/readyz under a flood of unauthenticated hits: each process asks Redis and the database at
most once per VERDICT_SECONDS, whatever the number of probes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from proctoring_site import health


@pytest.mark.django_db
def test_fifty_readyz_hits_cost_at_most_one_redis_and_one_database_round_trip(
    client: Client, redis_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "VERDICT_SECONDS", 60.0)  # the whole flood in one interval
    redis_conn.config_resetstat()
    with CaptureQueriesContext(connection) as queries:
        answers = [client.get("/readyz") for _ in range(50)]
    assert {answer.status_code for answer in answers} == {200}
    commands = redis_conn.info("commandstats")
    connections = redis_conn.info("stats")["total_connections_received"]
    # Besides our own CONFIG and INFO: one connection's HELLO and one PING at most.
    ours = ("cmdstat_config|resetstat", "cmdstat_info")
    calls = {name: stat["calls"] for name, stat in commands.items() if name not in ours}
    assert calls.get("cmdstat_ping", 0) <= 1 and sum(calls.values()) <= 2, calls
    assert connections <= 1, f"{connections} connections opened"
    assert len([q for q in queries.captured_queries if q["sql"] == "SELECT 1"]) <= 1


@pytest.mark.django_db
def test_a_verdict_is_asked_again_once_its_interval_is_over(
    client: Client, redis_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "VERDICT_SECONDS", 0.2)
    redis_conn.config_resetstat()
    for _ in range(3):
        time.sleep(0.25)
        assert client.get("/readyz").status_code == 200
    assert redis_conn.info("commandstats")["cmdstat_ping"]["calls"] == 3
