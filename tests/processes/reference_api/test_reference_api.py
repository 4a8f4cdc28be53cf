"""The reference proctoring API (`POST /reference-api/v1/analyze`), and the API client against it.

Here the tests that start real processes;
the others are in tests/unit/reference_api/test_reference_api.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from proctoring.core.exceptions import ApiRejected
from proctoring.core.frames import FrameMeta
from proctoring.worker.api_client import analyze_frame
from tests.support import png_bytes


@pytest.mark.slow
def test_api_client_gets_an_analysis_from_the_reference_api_over_http(settings, start_daphne):
    _, port = start_daphne(REFERENCE_API_KEY="live-key")
    settings.PROCTORING_API_URL = f"http://127.0.0.1:{port}/reference-api/v1/analyze"
    settings.PROCTORING_API_KEY = "live-key"
    meta = FrameMeta(
        client_id="client-9",
        attempt_id="attempt-9",
        seq=7,
        captured_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        received_at=datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC),
        content_type="image/png",
    )
    key = str(uuid.uuid4())

    answer = analyze_frame(meta, png_bytes(32, 24, color=(0, 0, 0)), key)
    again = analyze_frame(meta, png_bytes(32, 24, color=(0, 0, 0)), key)

    assert (answer["format"], answer["width"], answer["height"]) == ("PNG", 32, 24)
    assert answer["flags"] == ["camera_blocked"]
    assert (answer["client_id"], answer["attempt_id"], answer["seq"]) == ("client-9", "attempt-9", 7)
    assert datetime.fromisoformat(answer["captured_at"]) == meta.captured_at
    assert answer["replayed"] is False
    assert again == {**answer, "replayed": True}

    settings.PROCTORING_API_KEY = "wrong-key"
    with pytest.raises(ApiRejected) as rejected:
        analyze_frame(meta, png_bytes(), str(uuid.uuid4()))
    assert rejected.value.status == 401
