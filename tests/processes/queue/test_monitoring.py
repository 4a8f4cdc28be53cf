"""/metrics (Prometheus) and /proctoring/stats.json: who may read them, and that the series
follow what really happened (frames through the real consumer, a real worker).

Here the tests that start real processes;
the others are in tests/integration/queue/test_monitoring.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from exams.models import Attempt
from proctoring.models import FrameResult
from proctoring.queue import metrics
from proctoring.store.connections import get_redis
from tests.communicators import converse, token_path
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "monitoring-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def token(settings: Any) -> str:
    settings.PROCTORING_STATS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.slow
def test_series_follow_frames_through_the_consumer_and_a_worker(
    client: Client, attempt: Attempt, api: RecordingApi, start_worker: Any, token: str
) -> None:
    api.script(Reply(200), Reply(422, {"error": "no"}))
    metrics.recorder.take()  # forget what earlier tests' consumers observed in this process
    replies = converse(
        token_path(attempt),
        [{"bytes_data": jpeg_bytes()}, {"bytes_data": jpeg_bytes()}, {"bytes_data": b"not an image"}],
    )
    assert [reply["type"] for reply in replies] == ["ack", "ack", "error"]
    metrics.recorder.flush(get_redis())  # the consumer ran in this process; write what it saw
    start_worker()
    wait_until(lambda: FrameResult.objects.count() == 1, 30, "one delivered")

    def scraped() -> dict[Any, float]:
        return samples(client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content.decode())

    wait_until(lambda: scraped().get(("proctoring_api_seconds_count", ())) == 2, 15, "API calls observed")
    found = scraped()
    assert found[("proctoring_frames_total", (("outcome", "received"),))] == 2
    assert found[("proctoring_frames_total", (("outcome", "completed"),))] == 1
    assert found[("proctoring_frames_total", (("outcome", "failed"),))] == 1
    assert found[("proctoring_frames_rejected_total", (("reason", "bad_frame"),))] == 1
    assert found[("proctoring_api_responses_total", (("status", "200"),))] == 1
    assert found[("proctoring_api_responses_total", (("status", "422"),))] == 1
    assert found[("proctoring_enqueue_seconds_count", ())] == 2
    assert found[("proctoring_queue_jobs", (("state", "failed"),))] == 1
    assert found[("proctoring_queue_jobs", (("state", "queued"),))] == 0
    assert found[("proctoring_workers", ())] == 1
    snapshot = json.loads(client.get("/proctoring/stats.json", HTTP_AUTHORIZATION=f"Bearer {token}").content)
    assert snapshot["queue"]["failed"] == 1 and "clients" not in snapshot  # aggregates only
