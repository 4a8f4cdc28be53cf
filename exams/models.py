"""Exams, their questions, and the attempts exam takers make at them. An attempt's id is the
queue's client id. How an attempt moves between its states is `exams.lifecycle`'s alone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Exam(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(
        default=60, help_text="The time limit of an attempt, counted from when the exam taker starts."
    )
    is_active = models.BooleanField(default=True)
    # The window: no attempt starts before it opens, and open attempts end when it closes.
    opens_at = models.DateTimeField(null=True, blank=True, help_text="Empty: open now.")
    closes_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: never closes. Attempts still open then are submitted."
    )
    # Who may take it. Empty: every account that can log in (a school creates accounts for its
    # own candidates); a group restricts it to that group's members.
    enrolled_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only members of this group may take the exam. Empty: anyone with an account.",
    )
    # How many attempts a candidate may make (ended ones count); 0: no limit. One by default, as
    # a school's exam is taken once; a practice exam sets more.
    attempts_allowed = models.PositiveSmallIntegerField(
        default=1, help_text="Attempts each candidate may make; 0 for no limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Who watches this exam's attempts: its grid, timelines, images and incident reviews. Staff who
    # proctor no exam see none of them (superusers see all).
    proctors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="proctored_exams",
        help_text="Staff who see this exam's attempts, images and incidents, and review them.",
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "single choice"
        MULTIPLE = "multiple", "multiple choice"
        TEXT = "text", "short text"

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SINGLE)
    prompt = models.TextField(max_length=4000)
    points = models.DecimalField(max_digits=6, decimal_places=2, default=1)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.position}. {self.prompt[:60]}"


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class Attempt(models.Model):
    class Status(models.TextChoices):
        STARTED = "started"  # opened, not yet agreed to proctoring: the clock has not started
        IN_PROGRESS = "in_progress", "in progress"
        PAUSED = "paused"  # by a proctor: the clock stops, the questions are hidden
        SUBMITTED = "submitted"
        TIMED_OUT = "timed_out", "timed out"
        TERMINATED = "terminated"

    ENDED = (Status.SUBMITTED, Status.TIMED_OUT, Status.TERMINATED)

    # A UUID: it appears in WebSocket paths and queue keys, and should not be guessable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="attempts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    started_at = models.DateTimeField(auto_now_add=True)
    # When the exam taker agreed to be recorded; the exam page starts no camera before it, and
    # the clock starts then.
    consented_at = models.DateTimeField(null=True, blank=True)
    # The time limit, copied from the exam when the clock starts: editing the exam does not move
    # the deadline of an attempt under way.
    time_limit_seconds = models.PositiveIntegerField(default=0)
    extra_seconds = models.PositiveIntegerField(default=0)
    paused_seconds = models.FloatField(default=0)  # paused time before the current pause
    paused_at = models.DateTimeField(null=True, blank=True)  # the current pause, while paused
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)
    score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "exam"]), models.Index(fields=["exam", "status"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.exam} · {self.id}"

    @property
    def client_id(self) -> str:
        """The id under which the queue counts this attempt's frames."""
        return str(self.id)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def deadline(self, now: datetime) -> datetime | None:
        """When the clock runs out: start + time limit + extra time − paused time, and no later
        than the exam's close. None before the clock starts. While paused, the deadline moves
        with `now` (the pause so far counts), so the time left stays the same."""
        if self.consented_at is None:
            return None
        paused = self.paused_seconds
        if self.paused_at is not None:
            paused += max(0.0, (now - self.paused_at).total_seconds())
        own = self.consented_at + timedelta(seconds=self.time_limit_seconds + self.extra_seconds + paused)
        closes = self.exam.closes_at
        return min(own, closes) if closes is not None else own

    def seconds_left(self, now: datetime) -> float | None:
        deadline = self.deadline(now)
        if deadline is None:
            return None
        return max(0.0, (deadline - now).total_seconds())


class Answer(models.Model):
    """An exam taker's answer to one question, saved as they go. `version` grows with each save:
    a save names the version it changed, and one based on an older version is refused (another
    tab saved in between), so no save overwrites an answer its author had not seen."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    choices = models.ManyToManyField(Choice, blank=True, related_name="+")
    text = models.TextField(blank=True, max_length=4000)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)  # set at submit

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="one_answer_per_question")
        ]


class Transition(models.Model):
    """One change of an attempt's state, or an action on it that changes none (extra time),
    with who did it (None: the server, as at the deadline) and why."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=16)
    from_status = models.CharField(max_length=16, choices=Attempt.Status.choices)
    to_status = models.CharField(max_length=16, choices=Attempt.Status.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    extra_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status} → {self.to_status}"


class ProctorMessage(models.Model):
    """A proctor's message to an exam taker, shown on the exam page; `read_at` is when the page
    showed it and the exam taker acknowledged it."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=1000)
    sent_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "pk"]


class AttemptReview(models.Model):
    """A reviewer's verdict on a whole attempt; the newest is the attempt's review state."""

    class Outcome(models.TextChoices):
        NO_ISSUE = "no_issue", "no issue"
        SUSPICIOUS = "suspicious"
        VIOLATION = "violation"

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    comment = models.TextField(blank=True, max_length=4000)
    reviewed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reviewed_at", "-pk"]
