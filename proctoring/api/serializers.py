"""The API's requests (validated, bounded) and answers (the schema drf-spectacular publishes)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exams.models import Attempt, AttemptReview
from proctoring.api import platform_users
from proctoring.models import Incident
from proctoring.webhooks import endpoints as webhook_endpoints
from proctoring.webhooks import events as webhook_events

# Text without NUL (which databases refuse), said in the schema too (as its pattern).
NO_NUL = [RegexValidator(r"^[^\x00]*$", "NUL characters are not allowed.")]


class CreateAttemptRequest(serializers.Serializer[Any]):
    exam = serializers.SlugField(max_length=50, help_text="The exam's slug.")
    # Opaque: kept as given, spaces included (trimming would make two ids one).
    external_user = serializers.CharField(
        min_length=1, max_length=platform_users.ID_MAX, trim_whitespace=False, validators=NO_NUL,
        help_text="The platform's id of the exam taker.",
    )  # fmt: skip
    display_name = serializers.CharField(
        max_length=platform_users.NAME_MAX, required=False, allow_blank=True, default="", validators=NO_NUL,
        help_text="The exam taker's name, kept as their user's first name and given back in answers.",
    )  # fmt: skip
    consented = serializers.BooleanField(
        required=False, default=False,
        help_text="The platform collected the exam taker's consent to being recorded: the camera "
        "may stream (the clock starts). Without it the socket is refused until consent is given.",
    )  # fmt: skip


class EndAttemptRequest(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", validators=NO_NUL
    )
    submit = serializers.BooleanField(
        required=False, default=False,
        help_text="Submit (scored; only while in progress) instead of terminate.",
    )  # fmt: skip


class KindRisk(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    seconds = serializers.FloatField()
    open_reviews = serializers.IntegerField()
    severity = serializers.IntegerField()


class Risk(serializers.Serializer[Any]):
    streaming_seconds = serializers.FloatField()
    off_seconds = serializers.FloatField()
    off_after_seconds = serializers.FloatField()
    incidents = serializers.IntegerField()
    by_kind = serializers.DictField(child=KindRisk())
    no_face_percent = serializers.FloatField()


class AttemptAnswer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    exam = serializers.CharField()
    external_user = serializers.CharField(allow_null=True)
    display_name = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Attempt.Status.choices)
    started_at = serializers.DateTimeField()
    consented_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.CharField(allow_blank=True)
    deadline = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.FloatField(allow_null=True)
    token = serializers.CharField(allow_null=True, help_text="The camera token; null once ended.")
    socket_path = serializers.CharField(allow_null=True, help_text="Send the token as a Bearer header.")
    ws_path = serializers.CharField(allow_null=True, help_text="The socket with the token in its query.")


class AttemptDetailAnswer(AttemptAnswer):
    risk = Risk()
    open_incidents = serializers.IntegerField()
    pending_review = serializers.IntegerField()


class IncidentAnswer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    severity = serializers.IntegerField(help_text="1 low, 2 medium, 3 high.")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    frame_count = serializers.IntegerField()
    review_status = serializers.ChoiceField(choices=Incident.Review.choices)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    closed = serializers.BooleanField()
    closed_at = serializers.DateTimeField(allow_null=True)
    snapshot_url = serializers.CharField(
        allow_null=True, help_text="Signed; works without a key until expiry."
    )
    snapshot_expires_at = serializers.DateTimeField(allow_null=True)


class Review(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=AttemptReview.Outcome.choices)
    reviewed_at = serializers.DateTimeField()


class QueueEntryAnswer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    external_user = serializers.CharField(allow_null=True)
    display_name = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Attempt.Status.choices)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    risk = serializers.FloatField(help_text="The review priority (proctoring/live/review.py).")
    no_face_percent = serializers.FloatField()
    pending_incidents = serializers.IntegerField()
    proctor_flags = serializers.IntegerField()
    review = Review(allow_null=True)


class ErrorBody(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(required=False)


class ErrorAnswer(serializers.Serializer[Any]):
    error = ErrorBody()


class IncidentPage(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = IncidentAnswer(many=True)


class QueuePage(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueEntryAnswer(many=True)


@extend_schema_field(
    {"type": "string", "maxLength": webhook_endpoints.URL_MAX, "pattern": webhook_endpoints.URL_PATTERN}
)
class WebhookUrlField(serializers.CharField):
    """The endpoint's URL, checked by `webhooks.endpoints.check_url`; the schema states the URLs
    it always accepts."""


class CreateWebhookRequest(serializers.Serializer[Any]):
    url = WebhookUrlField(
        max_length=webhook_endpoints.URL_MAX, validators=NO_NUL,
        help_text="Where the events are POSTed: https:// (http:// only to a loopback address).",
    )  # fmt: skip
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=webhook_events.TYPES), min_length=1,
        max_length=len(webhook_events.TYPES), required=False, default=list(webhook_events.TYPES),
        help_text="The events it is sent. Default: all.",
    )  # fmt: skip
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", validators=NO_NUL
    )


class WebhookAnswer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=webhook_events.TYPES))
    description = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField(help_text="False once disabled (a day of failed deliveries).")
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class CreatedWebhookAnswer(WebhookAnswer):
    secret = serializers.CharField(
        help_text="`whsec_…`: verifies each message's `webhook-signature`. Shown in this answer only."
    )


class WebhookList(serializers.Serializer[Any]):
    results = WebhookAnswer(many=True)
