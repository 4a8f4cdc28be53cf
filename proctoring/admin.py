from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from proctoring.api import keys
from proctoring.models import ApiKey, AuditEntry, Finding, FrameResult, Incident
from proctoring.results import audit, incidents


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
