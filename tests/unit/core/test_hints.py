"""The exam page's hints: one calm word from the API's flags, never incident data."""

from __future__ import annotations

import pytest

from proctoring.core import protocol
from proctoring.core.hints import HINTS, hint_for


@pytest.mark.parametrize(
    ("flags", "hint"),
    [
        ([], None),
        (["no_face"], "face_not_visible"),
        (["looking_away"], "face_not_visible"),
        (["too_dark", "no_face"], "face_not_visible"),
        (["camera_blocked"], "camera_blocked"),
        (["too_dark"], "too_dark"),
        (["multiple_faces"], None),  # about others in the room: for the proctor, not the page
        (["too_bright"], None),
    ],
)
def test_hint_for_flags(flags, hint):
    assert hint_for(flags) == hint


def test_every_hint_has_a_sentence_the_page_receives():
    assert protocol.as_json_data()["hints"] == HINTS
    assert set(HINTS) == {"camera_blocked", "face_not_visible", "too_dark"}
