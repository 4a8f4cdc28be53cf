"""The API's circuit breaker as the overview shows it (closed, open, half-open, failures, the next
probe), the same state the workers' take sees, and closing it by hand (an audited action)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.models import AuditEntry
from proctoring.queue import breaker, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from proctoring.worker import intake
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db
OVERVIEW = "/admin/proctoring/queue/"
STATS = "/admin/proctoring/queue/stats.json"
CLOSE = "/admin/proctoring/queue/circuit/close/"


def take_one() -> intake.Batch:
    queue = policy.get_queue()
    return intake.take(queue.connection, queue.key, queue.started_job_registry.key, "rq:worker:w", "w", 1)


def circuit(client: Client) -> dict[str, Any]:
    return dict(json.loads(client.get(STATS).content)["queue"]["api_circuit"])


def open_circuit(settings: Any) -> None:
    for _ in range(settings.PROCTORING_BREAKER_THRESHOLD):
        breaker.record_failure()


def test_the_overview_shows_the_circuit_the_workers_obey(
    staff_client: Client, attempt: Attempt, redis_conn: Any, settings: Any
) -> None:
    enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), 1, parse_image(jpeg_bytes(), 1 << 20))
    open_circuit(settings)
    with pytest.raises(intake.CircuitOpen):
        take_one()
    shown = circuit(staff_client)
    assert (shown["state"], shown["failures"], shown["threshold"]) == ("open", 5, 5)
    assert 0 < shown["retry_in_s"] <= settings.PROCTORING_BREAKER_COOLDOWN
    page = staff_client.get(OVERVIEW).content.decode()
    assert 'data-figure="api_circuit">open<' in page and "5/5 failures, probes in" in page

    redis_conn.delete(keys.api_circuit_open())  # the cooldown is over
    assert len(take_one().taken) == 1  # the probe
    with pytest.raises(intake.CircuitOpen):  # the workers take nothing more: "circuit is open"
        take_one()
    shown = circuit(staff_client)
    assert (shown["state"], shown["open"], shown["probing"]) == ("half-open", True, True)
    page = staff_client.get(OVERVIEW).content.decode()
    assert 'data-figure="api_circuit">half-open<' in page and "5/5 failures, probe out" in page


def test_an_operator_closes_the_circuit_by_hand_and_it_is_audited(
    client: Client, attempt: Attempt, settings: Any
) -> None:
    operator = get_user_model().objects.create_user("op", password="op-pass-123", is_staff=True)
    operator.user_permissions.add(
        Permission.objects.get(codename="view_queue"), Permission.objects.get(codename="operate_queue")
    )
    viewer = get_user_model().objects.create_user("viewer", password="v-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_queue"))
    enqueuing.enqueue_frame(str(attempt.pk), str(attempt.pk), 1, parse_image(jpeg_bytes(), 1 << 20))
    open_circuit(settings)
    client.force_login(viewer)
    assert "Close the API circuit" not in client.get(OVERVIEW).content.decode()
    assert client.post(CLOSE).status_code == 403
    assert breaker.state()["state"] == "open"

    client.force_login(operator)
    assert "Close the API circuit" in client.get(OVERVIEW).content.decode()
    assert client.get(CLOSE).status_code == 405
    response = client.post(CLOSE, follow=True)
    assert "The API&#x27;s circuit is closed" in response.content.decode()
    assert breaker.state() | {"threshold": 0} == {
        "state": "closed", "open": False, "retry_in_s": None, "probing": False, "failures": 0, "threshold": 0,
    }  # fmt: skip
    assert len(take_one().taken) == 1
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CIRCUIT_CLOSED)
    assert (entry.actor_username, entry.target_type, entry.outcome) == ("op", "queue", "ok")
    assert entry.detail == {"was": ["open"], "failures": [5]}
