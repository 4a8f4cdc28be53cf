from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from proctoring.models import AuditEntry, Finding, FrameResult, Incident
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
