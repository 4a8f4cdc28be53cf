"""The reference API's face detector on real photographs with known face counts
(tests/fixtures/faces/: scikit-image's public-domain and CC0 sample images)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from proctoring.reference_api import detection
from proctoring.reference_api.analysis import DETECT_PIXELS, analyze, detection_size
from proctoring.reference_api.detection import BLOCKED_STD_BELOW, Detection, detect
from tests.support import fixture

# fixture -> (faces in the photograph, the flags a proctor should see)
KNOWN = {
    "one_face.jpg": (1, []),
    "two_faces.jpg": (2, ["multiple_faces"]),
    "no_face_cat.jpg": (0, ["no_face"]),
    "no_face_coffee.jpg": (0, ["no_face"]),
    "covered.jpg": (0, ["camera_blocked"]),
    "dark_face.jpg": (1, ["too_dark"]),
}


def gray(name: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(fixture(name))).convert("L"))


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_faces_and_flags_on_the_fixtures(name):
    faces, flags = KNOWN[name]
    answer = analyze(fixture(name))
    assert answer["faces"]["count"] == faces
    assert answer["flags"] == flags


def test_face_boxes_lie_on_the_faces():
    # In the two-face composite, one face is in each half.
    boxes = analyze(fixture("two_faces.jpg"))["faces"]["boxes"]
    centres = sorted(x + w / 2 for x, y, w, h in boxes)
    assert centres[0] < 320 < centres[1]
    for _, y, w, _ in boxes:
        assert 60 <= w <= 200 and y < 240, "face-sized, in the upper half"


def test_flags_follow_what_was_found():
    # No photograph of a face in profile ships with the fixtures' sources, so `looking_away`
    # is checked on the detector's rule rather than on a picture.
    box = (10, 10, 60, 60)
    assert Detection(faces=[], profiles=[box], mean=120, spread=40).flags == ["looking_away"]
    assert Detection(faces=[box], profiles=[], mean=120, spread=40).flags == []
    assert Detection(faces=[box, box], mean=20, spread=40).flags == ["multiple_faces", "too_dark"]
    assert Detection(faces=[], mean=250, spread=9).flags == ["no_face", "too_bright"]
    assert Detection(faces=[box], mean=10, spread=1).flags == ["camera_blocked"]


def test_a_covered_lens_is_blocked_and_a_dim_face_is_not():
    assert float(gray("covered.jpg").std()) < BLOCKED_STD_BELOW < float(gray("dark_face.jpg").std())


def test_a_mirrored_frame_finds_the_same_faces():
    image = Image.open(io.BytesIO(fixture("one_face.jpg"))).convert("L")
    assert len(detect(np.asarray(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).faces) == 1


# --- large pictures: detected on a reduced copy ------------------------------------------------------


def enlarged(name: str, size: tuple[int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(fixture(name))).resize(size, Image.Resampling.BICUBIC).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_large_picture_is_detected_on_a_reduced_copy_with_boxes_in_its_own_pixels(monkeypatch, fmt):
    shapes: list[tuple[int, ...]] = []
    real = detection.detect

    def recording(gray: np.ndarray) -> Detection:
        shapes.append(gray.shape)
        return real(gray)

    monkeypatch.setattr(detection, "detect", recording)
    answer = analyze(enlarged("two_faces.jpg", (1920, 1080), fmt))
    [(height, width)] = shapes
    assert height * width <= DETECT_PIXELS and abs(width / height - 1920 / 1080) < 0.01
    assert (answer["width"], answer["height"]) == (1920, 1080), "the size is the picture's own"
    assert answer["faces"]["count"] == 2 and answer["flags"] == ["multiple_faces"]
    centres = sorted(x + w / 2 for x, y, w, h in answer["faces"]["boxes"])
    assert centres[0] < 960 < centres[1], "one face in each half of the full-size picture"
    assert all(150 <= w <= 450 for _, _, w, _ in answer["faces"]["boxes"]), "boxes scaled back up"


def test_a_picture_detection_can_take_whole_is_not_scaled():
    assert detection_size(640, 480) == (640, 480)
    assert detection_size(1920, 1080) == (739, 415)
    assert detection_size(8192, 10) == (8192, 10)
