"""The delivery job, run in this process against a real receiver on 127.0.0.1: a signed POST
recorded on its row; a failure retried at the next configured delay through RQ's scheduled
registry, until the retries are spent; an endpoint failing for a day disabled, and the operator
told (log, audit log, the admin's list). Time is driven by moving `failing_since` back."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from exams import lifecycle
from exams.models import Attempt
from proctoring.live import actions
from proctoring.models import AuditEntry, WebhookDelivery, WebhookEndpoint
from proctoring.results import retention
from proctoring.store import keys
from proctoring.webhooks import delivery, endpoints, events
from tests.integration.webhooks.conftest import sent
from tests.support import Reply
from tests.webhook_receiver import verify

pytestmark = pytest.mark.django_db(transaction=True)

Status = WebhookDelivery.Status


@pytest.fixture
def pending(attempt: Attempt, everything: WebhookEndpoint) -> WebhookDelivery:
    """The `attempt.started` delivery of a begun attempt, not yet attempted."""
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    lifecycle.apply(attempt, lifecycle.Action.BEGIN)
    [made] = sent()
    return made


def fresh(row: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=row.pk)


def waits(row: WebhookDelivery) -> tuple[timedelta, int]:
    """How long after its last attempt the next is due, and that moment in Unix seconds."""
    assert row.next_attempt_at is not None and row.last_attempt_at is not None
    return row.next_attempt_at - row.last_attempt_at, int(row.next_attempt_at.timestamp())


def scheduled_at(delivery_id: int, attempt: int, redis_conn) -> int | None:
    registry = ScheduledJobRegistry(delivery.QUEUE, connection=redis_conn)
    score = redis_conn.zscore(registry.key, delivery.job_id(delivery_id, attempt))
    return int(score) if score is not None else None


def test_a_delivery_is_one_signed_post_of_the_payload_recorded_as_delivered(pending, everything, receiver):
    receiver.script(Reply(204, b""))
    assert delivery.deliver(pending.pk, 1) == Status.DELIVERED
    [call] = receiver.calls
    assert verify(everything.secret, call.headers, call.body), "an independent receiver accepts it"
    assert call.headers["webhook-id"] == pending.event_id
    assert call.headers["Content-Type"] == "application/json"
    assert json.loads(call.body) == pending.payload
    row = fresh(pending)
    assert (row.status, row.attempts, row.last_status_code) == (Status.DELIVERED, 1, 204)
    assert row.latency_ms is not None and row.delivered_at is not None and row.next_attempt_at is None


def test_a_failure_is_retried_at_each_configured_delay_then_fails(pending, receiver, settings, redis_conn):
    settings.PROCTORING_WEBHOOK_RETRY_DELAYS = (5, 300)
    receiver.script(Reply(500, b"x" * 5000, content_type="text/plain"))
    assert delivery.deliver(pending.pk, 1) == Status.RETRYING
    row = fresh(pending)
    assert (row.status, row.attempts, row.last_status_code) == (Status.RETRYING, 1, 500)
    assert row.response_excerpt == "x" * delivery.EXCERPT_BYTES, "the answer kept, capped"
    wait, due = waits(row)
    assert wait >= timedelta(seconds=5) and scheduled_at(row.pk, 2, redis_conn) == due

    assert delivery.deliver(pending.pk, 2) == Status.RETRYING
    row = fresh(pending)
    wait, due = waits(row)
    assert wait >= timedelta(seconds=300) and scheduled_at(row.pk, 3, redis_conn) == due

    assert delivery.deliver(pending.pk, 3) == Status.FAILED
    row = fresh(pending)
    assert (row.status, row.attempts, row.next_attempt_at) == (Status.FAILED, 3, None)
    assert scheduled_at(row.pk, 4, redis_conn) is None
    assert len(receiver.calls) == 3
    assert len({call.headers["webhook-id"] for call in receiver.calls}) == 1, "one id for every attempt"


def test_a_redirect_is_not_followed_but_retried(pending, receiver):
    receiver.script(Reply(302, b""))
    assert delivery.deliver(pending.pk, 1) == Status.RETRYING
    assert len(receiver.calls) == 1 and fresh(pending).last_status_code == 302


def test_a_receiver_too_slow_to_answer_is_a_failure_with_its_reason(pending, receiver, settings):
    settings.PROCTORING_WEBHOOK_TIMEOUT = 0.2
    receiver.script(Reply(200, delay=2))
    assert delivery.deliver(pending.pk, 1) == Status.RETRYING
    row = fresh(pending)
    assert row.last_status_code is None and "Timeout" in row.last_error


def test_a_job_run_twice_or_out_of_turn_sends_nothing_more(pending, receiver):
    assert delivery.deliver(pending.pk, 1) == Status.DELIVERED
    assert delivery.deliver(pending.pk, 1) == "stale"
    assert delivery.deliver(pending.pk, 2) == "stale"
    assert delivery.deliver(10**9, 1) == "gone"
    assert len(receiver.calls) == 1


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_operator_told(
    pending, everything, receiver, attempt, caplog, staff_client, admin_user
):
    receiver.script(Reply(503, b"down"))
    WebhookEndpoint.objects.filter(pk=everything.pk).update(
        failing_since=timezone.now() - timedelta(hours=25)
    )
    lifecycle.apply(attempt, lifecycle.Action.TERMINATE)  # a second delivery, waiting
    waiting = sent()[-1]
    with caplog.at_level(logging.ERROR, logger="proctoring.webhooks"):
        assert delivery.deliver(pending.pk, 1) == Status.FAILED
    endpoint = WebhookEndpoint.objects.get(pk=everything.pk)
    assert endpoint.disabled_at is not None and "HTTP 503" in endpoint.disabled_reason
    assert any(r.levelno == logging.ERROR and "disabled" in r.getMessage() for r in caplog.records)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WEBHOOK_DISABLED)
    assert (entry.target_id, entry.actor_username) == (str(endpoint.pk), "system")
    assert fresh(waiting).status == Status.FAILED, "its pending deliveries fail with it"
    assert delivery.deliver(waiting.pk, 1) == "stale"
    actions.flag(attempt, admin_user, "seen after the end")
    assert len(sent()) == 2, "a disabled endpoint is sent no new event"
    page = staff_client.get("/admin/proctoring/webhookendpoint/").content.decode()
    assert f"Webhook endpoint {endpoint.url} was disabled" in page


def test_failing_for_less_than_a_day_is_retried_and_a_success_clears_it(pending, everything, receiver):
    receiver.script(Reply(500, b""), Reply(200))
    WebhookEndpoint.objects.filter(pk=everything.pk).update(
        failing_since=timezone.now() - timedelta(hours=23)
    )
    assert delivery.deliver(pending.pk, 1) == Status.RETRYING
    endpoint = WebhookEndpoint.objects.get(pk=everything.pk)
    assert endpoint.disabled_at is None and endpoint.failing_since is not None
    assert delivery.deliver(pending.pk, 2) == Status.DELIVERED
    assert WebhookEndpoint.objects.get(pk=everything.pk).failing_since is None


def test_the_first_failure_starts_the_days_count(pending, everything, receiver):
    receiver.script(Reply(500, b""))
    before = timezone.now()
    delivery.deliver(pending.pk, 1)
    since = WebhookEndpoint.objects.get(pk=everything.pk).failing_since
    assert since is not None and since >= before


def test_a_delivery_of_a_since_disabled_endpoint_is_not_sent(pending, everything, receiver):
    endpoints_disabled = WebhookEndpoint.objects.filter(pk=everything.pk).update(disabled_at=timezone.now())
    assert endpoints_disabled == 1
    assert delivery.deliver(pending.pk, 1) == Status.FAILED
    assert receiver.calls == [] and fresh(pending).last_error == "the endpoint is disabled"
    assert events.TYPES and endpoints.redeliver(fresh(pending)) is None


def test_deliveries_past_retention_are_purged_with_the_results(pending, settings):
    WebhookDelivery.objects.filter(pk=pending.pk).update(created_at=timezone.now() - timedelta(days=31))
    settings.PROCTORING_RETENTION_DAYS = 30
    assert retention.purge(dry_run=True).webhook_deliveries == 1
    assert retention.purge().webhook_deliveries == 1 and not WebhookDelivery.objects.exists()


def lost(row: WebhookDelivery, redis_conn) -> None:
    """As if Redis was away when it was queued: the row waits, due 2 minutes ago, and no job."""
    Job.fetch(delivery.job_id(row.pk, 1), connection=redis_conn).delete()
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=2))


def test_a_delivery_whose_job_never_reached_redis_is_queued_again_and_only_once(pending, redis_conn):
    lost(pending, redis_conn)
    assert delivery.requeue_lost() == 1
    assert Job.exists(delivery.job_id(pending.pk, 1), connection=redis_conn)
    assert delivery.requeue_lost() == 0, "a delivery whose job is in Redis is left to RQ"

    # One due less than a minute ago may still be on its way: left alone.
    Job.fetch(delivery.job_id(pending.pk, 1), connection=redis_conn).delete()
    WebhookDelivery.objects.filter(pk=pending.pk).update(next_attempt_at=timezone.now())
    assert delivery.requeue_lost() == 0


def test_the_sweep_runs_once_a_minute_as_events_are_queued(pending, redis_conn):
    lost(pending, redis_conn)
    redis_conn.set(keys.webhooks_sweep(), 1, ex=60)  # another process looked this minute
    delivery.requeue_lost_now_and_then()
    assert not Job.exists(delivery.job_id(pending.pk, 1), connection=redis_conn)
    redis_conn.delete(keys.webhooks_sweep())
    delivery.enqueue_all([])  # the next event's queueing looks
    assert Job.exists(delivery.job_id(pending.pk, 1), connection=redis_conn)
    assert 0 < redis_conn.ttl(keys.webhooks_sweep()) <= delivery.LOST_AFTER
