"""The job that sends one delivery (`deliver`, on the `webhooks` queue), and its retry schedule.

One POST of the payload's JSON with the three Standard Webhooks headers, with connect and read
timeouts, never following a redirect. A 2xx answer delivers it; anything else (another status,
a timeout, a refused connection) is retried after `PROCTORING_WEBHOOK_RETRY_DELAYS[n]` seconds
(the nth retry), through RQ's scheduled registry, until they are spent: then it has failed.
Every attempt is written on the delivery's row. An endpoint every attempt to which has failed
for `PROCTORING_WEBHOOK_DISABLE_AFTER` seconds is disabled (`disabling`). The row is written
before its job is queued, so a delivery Redis was away for is not lost: `requeue_lost` queues it
again once Redis is back.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import django_rq
import redis
import requests
from django.conf import settings
from django.utils import timezone
from rq.job import Job

from proctoring.models import WebhookDelivery, WebhookEndpoint
from proctoring.store import keys
from proctoring.webhooks import disabling, signing

log = logging.getLogger(__name__)

QUEUE = "webhooks"
JOB = "proctoring.webhooks.delivery.deliver"
EXCERPT_BYTES = 1024  # of the receiver's answer, kept on the row
USER_AGENT = "proctoring-pipeline-webhooks/1"
LOST_AFTER = 60  # seconds past due before a delivery with no job in Redis is queued again
LOST_BATCH = 500  # deliveries queued again per sweep at most (the next sweep takes the rest)
Status = WebhookDelivery.Status


@dataclass(frozen=True)
class Answer:
    """How one attempt went: `status` None when no HTTP answer came (`error` says why)."""

    status: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def retry_delay(attempts_made: int, delays: Sequence[int]) -> int | None:
    """Seconds to wait before the next attempt after `attempts_made` failed ones; None once
    the retries are spent (`len(delays)` retries, so `len(delays) + 1` attempts in all)."""
    if attempts_made < 1 or attempts_made > len(delays):
        return None
    return delays[attempts_made - 1]


def due_second(moment: datetime) -> datetime:
    """`moment` rounded up to a whole second: RQ keeps a scheduled time in whole seconds rounded
    down, which would run a retry before its delay is over."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def job_id(delivery_id: int, attempt: int) -> str:
    """One job per attempt: scheduling an attempt twice makes one job."""
    return f"webhook-{delivery_id}-{attempt}"


def enqueue(delivery_id: int, attempt: int, at: datetime | None = None) -> bool:
    """Queues attempt number `attempt` of a delivery, now or at `at`. False if Redis refused
    it (the row stays as it is, and `requeue_lost` queues it once Redis is back)."""
    try:
        queue = django_rq.get_queue(QUEUE)
        kwargs = {"job_id": job_id(delivery_id, attempt), "result_ttl": 0, "failure_ttl": 7 * 24 * 3600}
        if at is None:
            queue.enqueue(JOB, delivery_id, attempt, **kwargs)
        else:
            queue.enqueue_at(at, JOB, delivery_id, attempt, **kwargs)
    except redis.RedisError as exc:
        log.warning("could not queue webhook delivery %s: %s", delivery_id, exc)
        return False
    return True


def enqueue_all(delivery_ids: Sequence[int]) -> None:
    for delivery_id in delivery_ids:
        enqueue(delivery_id, 1)
    requeue_lost_now_and_then()


def requeue_lost(now: datetime | None = None, limit: int = LOST_BATCH) -> int:
    """Queues again the deliveries whose next attempt never reached Redis (it was away when they
    were queued): waiting or retrying, due over `LOST_AFTER` seconds ago, and no job of theirs in
    Redis (one that exists is running, scheduled or failed, and RQ sees to it). Returns how many."""
    now = now or timezone.now()
    late = WebhookDelivery.objects.filter(
        status__in=(Status.PENDING, Status.RETRYING),
        endpoint__disabled_at__isnull=True,
        next_attempt_at__lt=now - timedelta(seconds=LOST_AFTER),
    ).order_by("next_attempt_at")[:limit]
    connection = django_rq.get_connection(QUEUE)
    queued = 0
    for row in late.only("pk", "attempts"):
        attempt = row.attempts + 1
        if not Job.exists(job_id(row.pk, attempt), connection=connection) and enqueue(row.pk, attempt):
            queued += 1
    if queued:
        log.warning("queued %d webhook delivery(ies) again that never reached Redis", queued)
    return queued


def requeue_lost_now_and_then() -> None:
    """`requeue_lost` at most once a minute across every process (as events are queued, and
    when the background worker starts): Redis back after an outage, the next event's queueing
    sends what the outage kept back."""
    try:
        if django_rq.get_connection(QUEUE).set(keys.webhooks_sweep(), 1, nx=True, ex=LOST_AFTER):
            requeue_lost()
    except redis.RedisError as exc:
        log.warning("could not look for webhook deliveries never queued: %s", exc)


def body_of(delivery: WebhookDelivery) -> str:
    """The bytes sent (and signed): compact JSON, ASCII only, so text and bytes are one."""
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)


def post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> Answer:
    """One signed POST to the endpoint."""
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.headers(endpoint.secret, delivery.event_id, now, body),
    }
    timeout = (settings.PROCTORING_WEBHOOK_CONNECT_TIMEOUT, settings.PROCTORING_WEBHOOK_TIMEOUT)
    started = time.monotonic()
    try:
        with requests.post(
            endpoint.url,
            data=body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            latency = int((time.monotonic() - started) * 1000)
            return Answer(response.status_code, latency, excerpt.decode("utf-8", "replace"))
    except requests.RequestException as exc:
        latency = int((time.monotonic() - started) * 1000)
        return Answer(None, latency, error=f"{type(exc).__name__}: {exc}"[:300])


def deliver(delivery_id: int, attempt: int) -> str:
    """The job: attempt number `attempt` of a delivery. Returns what became of it. A delivery
    gone (its endpoint deleted), already past this attempt, or whose endpoint was disabled is
    left as it is (the latter marked failed)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    if delivery.attempts != attempt - 1 or delivery.status in (Status.DELIVERED, Status.FAILED):
        return "stale"
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        _save(delivery, status=Status.FAILED, next_attempt_at=None, last_error="the endpoint is disabled")
        return Status.FAILED
    now = timezone.now()
    answer = post(endpoint, delivery, now)
    done = timezone.now()
    fields = {
        "attempts": attempt,
        "last_status_code": answer.status,
        "last_error": answer.error,
        "latency_ms": answer.latency_ms,
        "response_excerpt": answer.excerpt,
        "last_attempt_at": now,
    }
    if answer.ok:
        _save(delivery, status=Status.DELIVERED, delivered_at=done, next_attempt_at=None, **fields)
        disabling.succeeded(endpoint)
        return Status.DELIVERED
    delay = retry_delay(attempt, settings.PROCTORING_WEBHOOK_RETRY_DELAYS)
    if disabling.failed(endpoint, done, answer.status, answer.error):
        _save(delivery, status=Status.FAILED, next_attempt_at=None, **fields)
        return Status.FAILED
    if delay is None:
        _save(delivery, status=Status.FAILED, next_attempt_at=None, **fields)
        log.warning("webhook delivery %s to %s failed after %s attempts", delivery_id, endpoint.url, attempt)
        return Status.FAILED
    at = due_second(done + timedelta(seconds=delay))
    _save(delivery, status=Status.RETRYING, next_attempt_at=at, **fields)
    enqueue(delivery_id, attempt + 1, at)
    return Status.RETRYING


def _save(delivery: WebhookDelivery, **fields: object) -> None:
    for name, value in fields.items():
        setattr(delivery, name, value)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
