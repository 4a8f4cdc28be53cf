"""Exams and the attempts exam takers make at them. An attempt's id is the queue's client id."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Exam(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
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


class Attempt(models.Model):
    # A UUID: it appears in WebSocket paths and queue keys, and should not be guessable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the exam taker agreed to be recorded; the exam page starts no camera before it.
    consented_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "exam"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.exam} · {self.id}"

    @property
    def client_id(self) -> str:
        """The id under which the queue counts this attempt's frames."""
        return str(self.id)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
