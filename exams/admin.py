from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from exams.models import Attempt, Exam
from exams.services import end_attempt
from proctoring.results import audit


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin[Exam]):
    list_display = ["title", "slug", "is_active", "duration_minutes", "created_at"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["proctors"]  # who sees this exam's attempts and reviews its incidents


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin[Attempt]):
    list_display = ["id", "user", "exam", "started_at", "ended_at"]
    list_filter = ["exam"]
    raw_id_fields = ["user"]
    actions = ["end_attempts"]

    @admin.action(description="End the selected attempts (revokes their camera tokens)")
    def end_attempts(self, request: HttpRequest, queryset: QuerySet[Attempt]) -> None:
        # The gateway checks an attempt at every connection: an ended one takes no new socket,
        # whatever token its camera holds. Each end is recorded in the admin's history and the
        # audit log.
        ended = 0
        for attempt in queryset.filter(ended_at__isnull=True):
            end_attempt(attempt)
            self.log_change(request, attempt, "Ended the attempt; its camera tokens are revoked.")
            audit.record(request, audit.Action.ATTEMPT_ENDED, attempt)
            ended += 1
        self.message_user(request, f"{ended} attempt(s) ended; their camera tokens no longer connect.")
