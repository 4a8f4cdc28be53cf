"""The rate the gateway asks of a client: pure code."""

from __future__ import annotations

import pytest

from proctoring.gateway.throttle import MIN_FPS, advised_fps


@pytest.mark.parametrize(
    ("refusals", "slow_after", "fps"),
    [(0, 3, 2.0), (2, 3, 2.0), (3, 3, MIN_FPS), (9, 3, MIN_FPS), (9, 0, 2.0)],
    ids=["none", "below", "at", "above", "off"],
)
def test_a_client_whose_frames_the_api_refuses_is_asked_for_the_slowest_rate(refusals, slow_after, fps):
    assert advised_fps(0, 5000, 2.0, refusals, slow_after) == fps


def test_otherwise_the_queue_decides():
    assert advised_fps(4000, 5000, 2.0, 0, 3) == 0.5
