"""What the exam taker's page is told about its own camera: a calm hint, never incident data.

The worker turns the API's flags into at most one hint (`hint_for`), kept a few seconds in
Redis; the gateway's enqueue reads it in the same round trip and the ack carries it."""

from __future__ import annotations

# Hint code -> the sentence the exam page shows (rendered into the page with the protocol).
HINTS = {
    "camera_blocked": "Your camera seems to be covered. Please uncover it.",
    "face_not_visible": "We cannot see your face. Please sit facing the camera.",
    "too_dark": "Your picture is dark. Please turn on a light.",
}
# Flags, most pressing first, and the hint each gives. Flags that concern others in the room
# (multiple_faces) give none: the proctor follows those up.
_FROM_FLAGS = (
    ("camera_blocked", "camera_blocked"),
    ("no_face", "face_not_visible"),
    ("looking_away", "face_not_visible"),
    ("too_dark", "too_dark"),
)


def hint_for(flags: list[str]) -> str | None:
    for flag, hint in _FROM_FLAGS:
        if flag in flags:
            return hint
    return None
