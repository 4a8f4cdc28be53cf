"""Freshness figures (wait, run, answer age per client and overall) in the stats, /metrics and
`proctoring_stats`, and the admin's waiting list and failed-jobs search.

Here the tests that start real processes;
the others are in tests/integration/queue/test_freshness.py."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rq.suspension import resume, suspend

from proctoring.core.frames import parse_image
from proctoring.ops import stats
from proctoring.queue import enqueue as enqueuing
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

FAILED = "/admin/proctoring/queue/failed/"


def enqueue(client: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client, client, seq, parse_image(jpeg_bytes(), 1 << 20))


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("ops"))
    return client


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_delivered_frames_give_wait_run_and_age_figures_everywhere(
    attempt, api: RecordingApi, start_worker, redis_conn
):
    api.script(Reply(delay=0.05))
    suspend(redis_conn)  # the frames wait a moment in the queue
    for seq in range(1, 5):
        enqueue(str(attempt.pk), seq)
    start_worker()
    resume(redis_conn)
    wait_until(lambda: stats.clients()[0]["wait_p50"] is not None, 30, "the client's figures")
    row = stats.clients()[0]
    # Each frame waited (no less than the first bucket), ran at least the API's 50 ms.
    assert row["wait_p50"] > 0 and row["run_p50"] >= 0.05 and row["age_p99"] >= row["wait_p50"]
    wait_until(
        lambda: stats.queue_figures()["wait_p95_s"] is not None, 10, "overall figures (flushed each second)"
    )
    figures = stats.queue_figures()
    assert figures["run_p50_s"] >= 0.05 and figures["order"] == "fair" and figures["coalesce"] == "off"
    from prometheus_client import generate_latest
    from prometheus_client.core import CollectorRegistry

    from proctoring.ops.collector import QueueCollector

    registry = CollectorRegistry()
    registry.register(QueueCollector())
    text = generate_latest(registry).decode()
    assert "proctoring_wait_seconds_count 4.0" in text
    assert "proctoring_answer_age_seconds_bucket" in text and 'outcome="coalesced"' in text
    out = StringIO()
    call_command("proctoring_stats", stdout=out)
    assert "wait p50/p95/p99" in out.getvalue() and "order fair" in out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_failed_list_searches_by_job_id_and_by_error_text(staff: Client, api: RecordingApi, start_worker):
    api.script(Reply(422, {"error": "no face in this picture"}))
    rejected = enqueue("cam-1", 1)
    start_worker()
    wait_until(lambda: rejected in [row.job_id for row in staff.get(FAILED).context["rows"]], 30, "failed")

    def found(query: str) -> list[str]:
        return [row.job_id for row in staff.get(FAILED, {"q": query}).context["rows"]]

    assert found(rejected) == [rejected]
    assert found("NO FACE in this") == [rejected]  # the API's answer, any case
    assert found("422") == [rejected]
    assert found("a timeout that never happened") == []
    assert found(rejected) == [
        row.job_id for row in staff.get(FAILED, {"q": rejected, "client": "cam-1"}).context["rows"]
    ]
