"""How fast clients should send, from how full the queue is: pure code."""

from __future__ import annotations

# Below this share of PROCTORING_MAX_QUEUED, clients send at full rate.
THROTTLE_FROM = 0.25
# The slowest rate we ask for: one frame every five seconds still shows a proctor the exam.
MIN_FPS = 0.2


def advised_fps(queued: int, max_queued: int, normal_fps: float, refusals: int, slow_after: int) -> float:
    """The rate to ask of one client: `recommended_fps` for the queue, and the slowest rate for
    a client whose last `slow_after` (or more) frames the API refused in a row (0: never)."""
    if slow_after and refusals >= slow_after:
        return MIN_FPS
    return recommended_fps(queued, max_queued, normal_fps)


def recommended_fps(queued: int, max_queued: int, normal_fps: float) -> float:
    """Full rate while the backlog is small, then down in steps of a quarter of the full rate
    as the queue fills, never below MIN_FPS. Steps, not a smooth curve, so that clients are
    told rarely (only when the step changes)."""
    share = queued / max_queued if max_queued else 0.0
    if share < THROTTLE_FROM:
        return normal_fps
    # 0.25-0.5 full -> 3/4 rate, 0.5-0.75 -> 1/2, 0.75+ -> 1/4.
    steps_down = min(3, int((share - THROTTLE_FROM) / 0.25) + 1)
    return max(MIN_FPS, round(normal_fps * (4 - steps_down) / 4, 2))
