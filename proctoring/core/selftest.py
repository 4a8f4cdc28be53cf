"""Names the end-to-end self test (`proctoring_test_job`) reserves: its exam is hidden from
proctors' pages."""

from __future__ import annotations

TEST_EXAM_SLUG = "proctoring-test"
