"""Results out of the system: an exam's attempts as CSV, and one attempt's printable report.

The CSV is opened by spreadsheets, which run a cell that starts with `=`, `+`, `-` or `@` as a
formula (and some take a leading tab or carriage return the same way): every text cell that
starts so gets a leading `'` (`neutral`), so a username such as `=HYPERLINK(...)` stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from exams.models import Attempt, Exam
from proctoring.live import dashboard, review
from proctoring.models import Incident

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FIXED_COLUMNS = [
    "user",
    "attempt",
    "started_at",
    "clock_started_at",
    "ended_at",
    "status",
    "end_reason",
    "score",
    "max_score",
    "no_face_seconds",
    "streaming_seconds",
    "review_priority",
]
REVIEW_COLUMNS = ["review_state", "review_outcome", "reviewer", "reviewed_at", "review_comment"]


def neutral(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text that would start a formula is prefixed
    with `'`; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _moment(value: datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def rows(exam: Exam) -> tuple[list[str], list[dict[str, Any]]]:
    """The CSV's columns and one row per attempt of the exam (oldest first): one column per
    incident kind present among the exam's attempts (`incidents:<kind>`, a count)."""
    attempts = list(Attempt.objects.filter(exam=exam).select_related("user").order_by("started_at"))
    entries = {str(entry.attempt.pk): entry for entry in review.ranked(attempts)}
    kinds = sorted({kind for entry in entries.values() for kind in entry.signals.kind_counts})
    columns = [*FIXED_COLUMNS, *(f"incidents:{kind}" for kind in kinds), *REVIEW_COLUMNS]
    result = []
    for attempt in attempts:
        entry = entries[str(attempt.pk)]
        verdict = entry.review
        row: dict[str, Any] = {
            "user": attempt.user.get_username(),
            "attempt": str(attempt.pk),
            "started_at": _moment(attempt.started_at),
            "clock_started_at": _moment(attempt.consented_at),
            "ended_at": _moment(attempt.ended_at),
            "status": attempt.status,
            "end_reason": attempt.end_reason,
            "score": "" if attempt.score is None else attempt.score,
            "max_score": "" if attempt.max_score is None else attempt.max_score,
            "no_face_seconds": round(entry.signals.no_face_seconds, 1),
            "streaming_seconds": round(entry.signals.streaming_seconds, 1),
            "review_priority": entry.priority,
            "review_state": review.REVIEWED if verdict else review.UNREVIEWED,
            "review_outcome": verdict.outcome if verdict else "",
            "reviewer": verdict.reviewer.get_username() if verdict and verdict.reviewer else "",
            "reviewed_at": _moment(verdict.reviewed_at) if verdict else "",
            "review_comment": verdict.comment if verdict else "",
        }
        for kind in kinds:
            row[f"incidents:{kind}"] = entry.signals.kind_counts.get(kind, 0)
        result.append(row)
    return columns, result


def to_csv(columns: Sequence[str], records: Iterable[dict[str, Any]]) -> str:
    """The records as CSV text (a header, then one line per record), every cell `neutral`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writerow({column: neutral(column) for column in columns})
    for record in records:
        writer.writerow({key: neutral(value) for key, value in record.items()})
    return out.getvalue()


def report(attempt: Attempt) -> dict[str, Any]:
    """Everything the printable report shows of one attempt."""
    return {
        "attempt": attempt,
        "timeline": dashboard.timeline(attempt),
        "incidents": list(
            Incident.objects.filter(attempt=attempt)
            .select_related("snapshot", "reviewed_by", "flagged_by")
            .order_by("first_seen", "pk")
        ),
        "reviews": list(attempt.reviews.select_related("reviewer")),
        "transitions": list(attempt.transitions.select_related("by")),
        "messages_sent": list(attempt.messages.select_related("sender")),
        "priority": review.ranked([attempt])[0],
        "generated_at": timezone.now(),
    }
