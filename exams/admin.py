from django.contrib import admin

from exams.models import Attempt, Exam


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin[Exam]):
    list_display = ["title", "slug", "is_active", "duration_minutes", "created_at"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin[Attempt]):
    list_display = ["id", "user", "exam", "started_at", "ended_at"]
    list_filter = ["exam"]
    raw_id_fields = ["user"]
