"""What the proctoring found: a row per delivered frame (its metadata and the API's answer, never
its image), an append-only finding per flag, and incidents (findings of one kind merged into a
time interval) that a proctor reviews.

The shape follows what mature proctoring systems keep (edx-proctoring's attempts, reviews and
review comments): the evidence is append-only, the review is a separate, attributed decision.

Beside them: the holder of the queue's permissions, the audit log (an append-only entry per
action of staff or of an API key), the REST API's keys and the platforms' users they create, and
the webhook endpoints platforms register and each delivery made to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from exams.models import Attempt, Exam


class FrameResult(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="frame_results")
    seq = models.PositiveIntegerField(help_text="The frame's number on its connection, from 1.")
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField(help_text="When the gateway accepted the frame.")
    clock_corrected = models.BooleanField(
        default=False,
        help_text="The client's capture time was out of bounds: captured_at is the receive time.",
    )
    late = models.BooleanField(
        default=False,
        help_text="Sent as backfill, past its live window (PROCTORING_MAX_FRAME_AGE): not seen live.",
    )
    # The job id, also the API's Idempotency-Key: a job run twice stores one row.
    job_id = models.CharField(max_length=64, unique=True)
    result = models.JSONField(help_text="The API's answer, as it sent it.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the image bytes as they came.")
    # Where the image is kept (default storage), only for a frame that is an incident's snapshot.
    snapshot_key = models.CharField(max_length=255, blank=True)
    purge_after = models.DateTimeField(
        null=True, db_index=True, help_text="When this row and its snapshot are deleted."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "captured_at"]
        indexes = [models.Index(fields=["attempt", "captured_at"])]

    def __str__(self) -> str:
        return f"{self.attempt_id} #{self.seq}"

    @property
    def flags(self) -> list[str]:
        flags = self.result.get("flags") if isinstance(self.result, dict) else None
        return [str(flag) for flag in flags] if isinstance(flags, list) else []


class Severity(models.IntegerChoices):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class Incident(models.Model):
    """Flagged frames of one kind close together in time, as one interval to review."""

    class Review(models.TextChoices):
        PENDING = "pending"
        REVIEWED = "reviewed"  # looked at: a real problem
        DISMISSED = "dismissed"  # looked at: nothing wrong

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=64)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    first_seen = models.DateTimeField(help_text="Capture time of its first flagged frame.")
    last_seen = models.DateTimeField(help_text="Capture time of its last flagged frame.")
    frame_count = models.PositiveIntegerField(default=0)
    snapshot = models.ForeignKey(
        FrameResult,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The first flagged frame, whose image is kept.",
    )
    review_status = models.CharField(max_length=16, choices=Review.choices, default=Review.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Open while the attempt goes on; closed when it ends (an incident opened afterwards, by a
    # frame acked before the end and analysed after it, is born closed).
    closed_at = models.DateTimeField(null=True, blank=True)
    # A proctor's flag (kind PROCTOR_FLAG): who raised it and what they saw.
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["attempt", "kind", "last_seen"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.first_seen:%H:%M:%S}–{self.last_seen:%H:%M:%S} ({self.frame_count} frames)"

    @property
    def duration_seconds(self) -> float:
        return (self.last_seen - self.first_seen).total_seconds()


class Finding(models.Model):
    """One flag on one frame, as the API reported it. Append-only: never edited, never reviewed."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="findings")
    frame = models.ForeignKey(FrameResult, on_delete=models.CASCADE, related_name="findings")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=64)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    confidence = models.FloatField(null=True, blank=True, help_text="0-1, when the API gives one.")
    occurred_at = models.DateTimeField(help_text="The frame's capture time.")
    received_at = models.DateTimeField(help_text="When the gateway accepted the frame.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["attempt", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%H:%M:%S}"


class Queue(models.Model):
    """No table: the holder of the queue pages' permissions, given to operators in the admin
    (users or groups), as django-rq's `Dashboard` holds its own."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_queue", "View the queue pages: figures, clients, waiting and failed jobs"),
            ("operate_queue", "Operate the queue: pause, resume, retry, delete, clean, send a test frame"),
        ]
        verbose_name = "proctoring queue"


class AppendOnly(Exception):
    """An audit entry is never changed or deleted, except by the retention purge."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("audit entries are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are deleted only by the retention purge (purge_before)")

    def purge_before(self, cutoff: datetime) -> int:
        """Deletes the entries older than `cutoff`: the retention purge's door, and the only one."""
        deleted, _ = models.QuerySet.delete(self.filter(at__lt=cutoff))
        return deleted


class AuditEntry(models.Model):
    """One action of a proctor, a queue operator or an admin: who, when, what, on what, and how
    it ended. Appended by `proctoring.results.audit.record`; never edited."""

    class Action(models.TextChoices):
        INCIDENT_REVIEWED = "incident.reviewed"
        INCIDENT_DISMISSED = "incident.dismissed"
        INCIDENT_REOPENED = "incident.reopened"
        ATTEMPT_VIEWED = "attempt.viewed"  # its timeline: findings, incidents
        SNAPSHOT_VIEWED = "snapshot.viewed"
        THUMBNAIL_VIEWED = "thumbnail.viewed"  # the live picture; once per attempt per viewer a while
        FRAME_VIEWED = "frame.viewed"  # a queued or failed frame's image
        JOB_RETRIED = "job.retried"
        JOB_DELETED = "job.deleted"
        FAILED_CLEANED = "failed.cleaned"
        QUEUE_PAUSED = "queue.paused"
        QUEUE_RESUMED = "queue.resumed"
        CIRCUIT_CLOSED = "queue.circuit_closed"  # the API's circuit breaker, closed by hand
        TEST_FRAME_SENT = "queue.test_frame"
        ATTEMPT_ENDED = "attempt.ended"  # by staff, in the admin
        ATTEMPT_ERASED = "attempt.erased"  # deleted, with all its data (admin, command, cascade)
        PERMISSIONS_CHANGED = "permissions.changed"  # a user's or group's permissions or groups
        ROLE_CHANGED = "role.changed"  # a user's is_staff, is_superuser or is_active
        PROCTORS_CHANGED = "proctors.changed"  # an exam's proctors
        REFUSED = "access.refused"  # a staff page, image or action the user has no role for
        # A proctor stepping in on an attempt (proctoring.live.actions), and its review.
        MESSAGE_SENT = "attempt.message_sent"
        ATTEMPT_PAUSED = "attempt.paused"
        ATTEMPT_RESUMED = "attempt.resumed"
        TIME_EXTENDED = "attempt.time_extended"
        ATTEMPT_FLAGGED = "attempt.flagged"
        ATTEMPT_TERMINATED = "attempt.terminated"
        ATTEMPT_REVIEWED = "attempt.reviewed"
        REPORT_VIEWED = "attempt.report_viewed"  # the printable report: snapshots, reviews, messages
        RESULTS_EXPORTED = "exam.results_exported"  # the exam's attempts as CSV
        # The REST API (proctoring/api/): its keys, and what a key's calls change.
        API_KEY_CREATED = "api_key.created"
        API_KEY_REVOKED = "api_key.revoked"
        API_KEY_CHANGED = "api_key.changed"  # its name or scope, in the admin
        API_ATTEMPT_CREATED = "api.attempt_created"
        API_ATTEMPT_ENDED = "api.attempt_ended"
        # Webhooks (proctoring/webhooks/): endpoints registered and removed (admin or API), a
        # delivery sent again by hand, an endpoint disabled after failing for a day (the system).
        WEBHOOK_CREATED = "webhook.created"
        WEBHOOK_DELETED = "webhook.deleted"
        WEBHOOK_ENABLED = "webhook.enabled"
        WEBHOOK_DISABLED = "webhook.disabled"
        WEBHOOK_REDELIVERED = "webhook.redelivered"

    class Outcome(models.TextChoices):
        OK = "ok"
        REFUSED = "refused"
        ERROR = "error"

    at = models.DateTimeField(default=timezone.now, db_index=True, help_text="Server time.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied, so that the entry still says who once the account is deleted.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    exam = models.ForeignKey(Exam, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    exam_slug = models.CharField(max_length=50, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    detail = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["actor", "action", "target_id", "at"]),
            models.Index(fields=["target_type", "target_id", "at"]),
        ]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:  # saved before: this would be an update
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are deleted only by the retention purge")


class ApiKey(models.Model):
    """A platform's key to the REST API (proctoring/api/): only a SHA-256 of its secret is kept,
    the key itself is shown once. It reaches the exams it is scoped to (or all, with `all_exams`
    set explicitly); an empty scope reaches none."""

    name = models.CharField(max_length=100, help_text="Who holds it; the audit log names calls by it.")
    # The platform whose users the key speaks for: keys of one platform (a rotation) share its
    # external users and their attempts.
    platform = models.SlugField(
        max_length=50, blank=True, help_text="Keys of one platform share its users. Empty: the name's slug."
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, editable=False)
    exams = models.ManyToManyField(Exam, blank=True, related_name="+", help_text="The exams it reaches.")
    all_exams = models.BooleanField(default=False, help_text="Reaches every exam, present and future.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (pk_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ExternalUser(models.Model):
    """A platform's user, as the API knows them: a Django user of its own per (platform, id)."""

    platform = models.SlugField(max_length=50)
    external_id = models.CharField(max_length=150)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id"], name="one_user_per_external_id")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"


class WebhookEndpoint(models.Model):
    """Where a platform hears of attempts and incidents (`proctoring.webhooks`): a URL, the
    secret its messages are signed with, the event types it wants. One registered through the
    API belongs to that key and hears only the key's exams; one made in the admin hears all."""

    url = models.URLField(max_length=500)
    # The Standard Webhooks secret, `whsec_` + base64 of 32 random bytes: an HMAC key, so it is
    # kept as it is (a hash would not sign).
    secret = models.CharField(max_length=100, editable=False)
    event_types = models.JSONField(default=list, help_text="The event types it is sent.")
    description = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="The API key that registered it: it hears that key's exams. Empty: every exam.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Since when every attempt to deliver to it has failed (None: its last attempt succeeded).
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with how its attempts went."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The Standard Webhooks message id (`webhook-id`), the same for every endpoint and every
    # attempt of one event, so a receiver can drop a repeat.
    event_id = models.CharField(max_length=40, db_index=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Of the last attempt.")
    response_excerpt = models.TextField(blank=True, max_length=1024)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "status"])]
        permissions = [("redeliver_webhookdelivery", "Send a webhook delivery again")]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"
