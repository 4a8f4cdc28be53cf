"""The probes' tests change what /readyz reaches mid-test: each answer must be asked afresh."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proctoring_site import health


@pytest.fixture(autouse=True)
def fresh_readiness_verdicts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(health, "VERDICT_SECONDS", 0.0)
    health.forget_verdict()
    yield
    health.forget_verdict()
