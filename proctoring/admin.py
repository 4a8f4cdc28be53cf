from django.contrib import admin

from proctoring.models import FrameResult


@admin.register(FrameResult)
class FrameResultAdmin(admin.ModelAdmin[FrameResult]):
    list_display = ["attempt", "seq", "captured_at", "received_at", "created_at"]
    list_filter = ["attempt__exam"]
    readonly_fields = ["attempt", "seq", "captured_at", "received_at", "job_id", "result", "created_at"]
    search_fields = ["job_id", "attempt__id"]
