from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from proctoring.api import keys
from proctoring.models import (
    ApiKey,
    AuditEntry,
    Finding,
    FrameResult,
    Incident,
    WebhookDelivery,
    WebhookEndpoint,
)
from proctoring.results import audit, incidents
from proctoring.webhooks import disabling as webhook_disabling
from proctoring.webhooks import endpoints as webhook_endpoints
from proctoring.webhooks import events as webhook_events
from proctoring.webhooks import signing as webhook_signing


@admin.register(FrameResult)
class FrameResultAdmin(admin.ModelAdmin[FrameResult]):
    list_display = [
        "attempt", "seq", "captured_at", "received_at", "clock_corrected", "late", "snapshot_key",
        "purge_after",
    ]  # fmt: skip
    list_filter = ["attempt__exam", "clock_corrected", "late"]
    readonly_fields = [
        "attempt", "seq", "captured_at", "received_at", "clock_corrected", "late", "job_id", "result",
        "sha256", "snapshot_key", "purge_after", "created_at",
    ]  # fmt: skip
    search_fields = ["job_id", "attempt__id"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin[Incident]):
    list_display = ["attempt", "kind", "severity", "first_seen", "last_seen", "frame_count", "review_status"]
    list_filter = ["kind", "severity", "review_status", "attempt__exam"]
    # The evidence is the API's; only the review is a person's to write (and the dashboard records
    # who and when).
    readonly_fields = [
        "attempt", "kind", "severity", "first_seen", "last_seen", "frame_count", "snapshot",
        "reviewed_by", "reviewed_at", "created_at",
    ]  # fmt: skip
    search_fields = ["attempt__id", "attempt__user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # incidents come from the API's findings only

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        incidents.review(obj, request.user, obj.review_status, obj.review_comment)
        audit.record(
            request, audit.review_action(obj.review_status), obj, status=obj.review_status,
            comment=obj.review_comment,
        )  # fmt: skip


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin[Finding]):
    """Append-only: viewable, never changed or added by hand."""

    list_display = ["attempt", "kind", "severity", "confidence", "occurred_at", "incident"]
    list_filter = ["kind", "severity"]
    search_fields = ["attempt__id"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    """Read and filtered, never added, changed or deleted here, by anyone (superusers included):
    only the retention purge deletes entries."""

    list_display = ["at", "actor_username", "action", "target_type", "target_id", "exam_slug", "outcome"]
    list_filter = ["action", "outcome", "exam", "actor"]
    date_hierarchy = "at"
    search_fields = ["actor_username", "target_id", "exam_slug", "remote_addr"]
    readonly_fields = [
        "at", "actor", "actor_username", "action", "target_type", "target_id", "exam", "exam_slug",
        "outcome", "detail", "remote_addr",
    ]  # fmt: skip
    actions = None  # not even "delete selected"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys of the REST API: made here (the key is shown once, in a message), scoped, revoked;
    never deleted (the audit log names calls by them)."""

    list_display = ["name", "prefix", "platform", "all_exams", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["all_exams", "revoked_at"]
    search_fields = ["name", "prefix", "platform"]
    filter_horizontal = ["exams"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        fixed = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
        return fixed + ["platform"] if obj is not None else fixed

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            obj.platform = keys.platform_of(obj.platform, obj.name)
            obj.created_by = request.user if request.user.is_authenticated else None
            # On the instance, which this request alone holds (the ModelAdmin is shared).
            obj._plaintext = keys.fill(obj)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        key: ApiKey = form.instance
        scope = sorted(key.exams.values_list("slug", flat=True))
        action = audit.Action.API_KEY_CHANGED if change else audit.Action.API_KEY_CREATED
        audit.record(
            request, action, key, name=key.name, prefix=key.prefix, exams=scope, all_exams=key.all_exams
        )
        plaintext = getattr(key, "_plaintext", "")
        if plaintext:
            messages.warning(
                request, f"The new API key, shown this once (only its hash is kept): {plaintext}"
            )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset:
            if keys.revoke(key):
                revoked += 1
                audit.record(request, audit.Action.API_KEY_REVOKED, key, name=key.name, prefix=key.prefix)
        self.message_user(request, f"{revoked} API key(s) revoked.")


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    # A plain field: the URL is checked by `check_url` (https, or http to loopback), not guessed at.
    url = forms.CharField(
        max_length=webhook_endpoints.URL_MAX, help_text="https://…, or http:// to loopback."
    )
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in webhook_events.TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(webhook_events.TYPES),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "event_types", "description"]

    def clean_url(self) -> str:
        try:
            return webhook_endpoints.check_url(self.cleaned_data["url"])
        except webhook_endpoints.InvalidEndpoint as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    """Endpoints made here hear every exam; the secret is made on save and shown once in a
    message (then masked). A disabled endpoint is named at the top of the list until enabled."""

    form = WebhookEndpointForm
    list_display = ["url", "owner", "active", "failing_since", "disabled_at", "created_at"]
    list_filter = [("disabled_at", admin.EmptyFieldListFilter), "owner"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "secret_hint",
        "owner",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "created_at",
    ]
    actions = ["enable", "disable"]

    @admin.display(boolean=True)
    def active(self, obj: WebhookEndpoint) -> bool:
        return obj.is_active

    @admin.display(description="secret")
    def secret_hint(self, obj: WebhookEndpoint) -> str:
        return webhook_signing.masked(obj.secret)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        for endpoint in WebhookEndpoint.objects.filter(disabled_at__isnull=False)[:20]:
            messages.error(
                request,
                f"Webhook endpoint {endpoint.url} was disabled on {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC: "
                f"{endpoint.disabled_reason}. Fix the receiver, then enable it (its failed deliveries can "
                "be sent again from the deliveries list).",
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            obj.secret = webhook_signing.new_secret()
        super().save_model(request, obj, form, change)
        if not change:
            audit.record(request, audit.Action.WEBHOOK_CREATED, obj, url=obj.url, event_types=obj.event_types)
            messages.warning(
                request, f"The endpoint's signing secret, shown this once (then masked): {obj.secret}"
            )

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        audit.record(request, audit.Action.WEBHOOK_DELETED, obj, url=obj.url)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            audit.record(request, audit.Action.WEBHOOK_DELETED, endpoint, url=endpoint.url)
        super().delete_queryset(request, queryset)

    @admin.action(
        description="Enable the selected endpoints (their failures forgotten)", permissions=["change"]
    )
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        enabled = 0
        for endpoint in queryset:
            if webhook_disabling.enable(endpoint):
                enabled += 1
                audit.record(request, audit.Action.WEBHOOK_ENABLED, endpoint, url=endpoint.url)
        self.message_user(request, f"{enabled} endpoint(s) enabled.")

    @admin.action(description="Disable the selected endpoints", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        disabled = 0
        for endpoint in queryset:
            by = request.user.get_username() if request.user.is_authenticated else "?"
            if webhook_disabling.disable(endpoint, f"disabled by {by} in the admin", actor=request):
                disabled += 1
        self.message_user(request, f"{disabled} endpoint(s) disabled.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    """Each event sent to each endpoint and how its attempts went; read only, but for the
    "redeliver" action (permission `proctoring.redeliver_webhookdelivery`, audited)."""

    list_display = [
        "created_at", "event_type", "endpoint", "status", "attempts", "last_status_code", "latency_ms",
        "next_attempt_at", "excerpt",
    ]  # fmt: skip
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["event_id", "endpoint__url"]
    date_hierarchy = "created_at"
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint", "event_id", "event_type", "payload", "status", "attempts", "last_status_code",
        "last_error", "latency_ms", "response_excerpt", "next_attempt_at", "redelivery_of", "created_at",
        "last_attempt_at", "delivered_at",
    ]  # fmt: skip
    actions = ["redeliver"]

    @admin.display(description="response")
    def excerpt(self, obj: WebhookDelivery) -> str:
        text = obj.response_excerpt or obj.last_error
        return text[:80] + ("…" if len(text) > 80 else "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("proctoring.redeliver_webhookdelivery")

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        if not self.has_redeliver_permission(request):  # the action is hidden, but may be posted
            audit.record(request, audit.Action.REFUSED, ("webhook_delivery", ""), audit.Outcome.REFUSED)
            self.message_user(request, "You may not redeliver webhooks.", messages.ERROR)
            return
        sent, skipped = 0, 0
        for original in queryset.select_related("endpoint"):
            again = webhook_endpoints.redeliver(original)
            outcome = audit.Outcome.OK if again is not None else audit.Outcome.ERROR
            audit.record(
                request, audit.Action.WEBHOOK_REDELIVERED, original, outcome, event_id=original.event_id,
                endpoint=original.endpoint.url, new_delivery=again.pk if again is not None else None,
            )  # fmt: skip
            sent, skipped = (sent + 1, skipped) if again is not None else (sent, skipped + 1)
        self.message_user(
            request, f"{sent} delivery(ies) queued again; {skipped} of disabled endpoints skipped."
        )
