"""Authoring exams (questions inline, choices inline on each question) and looking at attempts
(their state, clock and every transition). Ending attempts goes through `exams.services`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from exams.models import Attempt, Choice, Exam, Question, Transition
from exams.services import end_attempt
from proctoring.results import audit


class QuestionInline(admin.TabularInline[Question, Exam]):
    model = Question
    fields = ["position", "kind", "prompt", "points"]
    extra = 0
    show_change_link = True  # the question's own page holds its choices
    ordering = ["position", "pk"]


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin[Exam]):
    list_display = [
        "title",
        "slug",
        "is_active",
        "duration_minutes",
        "opens_at",
        "closes_at",
        "enrolled_group",
    ]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["proctors"]  # who sees this exam's attempts and reviews its incidents
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "is_active"]}),
        ("Time", {"fields": ["duration_minutes", "opens_at", "closes_at"]}),
        ("Who", {"fields": ["enrolled_group", "attempts_allowed", "proctors"]}),
    ]
    inlines = [QuestionInline]


class ChoiceInline(admin.TabularInline[Choice, Question]):
    model = Choice
    fields = ["position", "text", "is_correct"]
    extra = 2
    ordering = ["position", "pk"]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin[Question]):
    list_display = ["__str__", "exam", "kind", "points"]
    list_filter = ["exam", "kind"]
    fields = ["exam", "position", "kind", "prompt", "points"]
    inlines = [ChoiceInline]


class TransitionInline(admin.TabularInline[Transition, Attempt]):
    """Each change of the attempt's state: recorded by `exams.lifecycle`, never edited here."""

    model = Transition
    fields = readonly_fields = ("at", "action", "from_status", "to_status", "by", "reason", "extra_seconds")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin[Attempt]):
    list_display = ["id", "user", "exam", "status", "started_at", "deadline_now", "score", "ended_at"]
    list_filter = ["exam", "status"]
    raw_id_fields = ["user"]
    actions = ["end_attempts"]
    inlines = [TransitionInline]
    # The state is the state machine's: the admin shows it, and changes it only through the action.
    readonly_fields = [
        "user",
        "exam",
        "status",
        "started_at",
        "consented_at",
        "deadline_now",
        "time_limit_seconds",
        "extra_seconds",
        "paused_seconds",
        "paused_at",
        "ended_at",
        "end_reason",
        "score",
        "max_score",
    ]

    @admin.display(description="deadline")
    def deadline_now(self, attempt: Attempt) -> datetime | None:
        return attempt.deadline(timezone.now()) if attempt.is_open else None

    @admin.action(description="End the selected attempts (revokes their camera tokens)")
    def end_attempts(self, request: HttpRequest, queryset: QuerySet[Attempt]) -> None:
        # The gateway checks an attempt at every connection: an ended one takes no new socket,
        # whatever token its camera holds. Each end is a terminate transition naming who did it,
        # and is recorded in the admin's history and the audit log.
        ended = 0
        for attempt in queryset.filter(ended_at__isnull=True):
            end_attempt(attempt, by=request.user, reason="ended by staff in the admin")
            self.log_change(request, attempt, "Ended the attempt; its camera tokens are revoked.")
            audit.record(request, audit.Action.ATTEMPT_ENDED, attempt)
            ended += 1
        self.message_user(request, f"{ended} attempt(s) ended; their camera tokens no longer connect.")
