"""What the proctoring API found, one row per delivered frame."""

from __future__ import annotations

from django.db import models

from exams.models import Attempt


class FrameResult(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="frame_results")
    seq = models.PositiveIntegerField(help_text="The frame's number on its connection, from 1.")
    captured_at = models.DateTimeField()
    received_at = models.DateTimeField(help_text="When the gateway accepted the frame.")
    # The job id, also the API's Idempotency-Key: a job run twice stores one row.
    job_id = models.CharField(max_length=64, unique=True)
    result = models.JSONField(help_text="The API's answer, as it sent it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "captured_at"]
        indexes = [models.Index(fields=["attempt", "captured_at"])]

    def __str__(self) -> str:
        return f"{self.attempt_id} #{self.seq}"
