"""Face detection for the reference API, offline: OpenCV's Haar cascades, which ship inside the
`opencv-python-headless` 4.x wheel (`cv2.data`); nothing is downloaded at run time.

From a grey image it finds frontal faces (and, when there are none, faces in profile, either
way round) and derives the flags a proctor acts on:

- `camera_blocked`: the frame is nearly uniform (a covered lens, a camera showing black); it
  stands for `no_face` and `too_dark` then, which would only repeat it;
- `no_face`: no face, frontal or in profile;
- `multiple_faces`: more than one frontal face;
- `looking_away`: no frontal face, but one in profile (rough: Haar profiles are coarse);
- `too_dark` / `too_bright`: mean luminance below 40 / above 235 (of 255).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

TOO_DARK_BELOW = 40.0  # mean luminance, 0-255
TOO_BRIGHT_ABOVE = 235.0
# A covered or black camera: luminance varies by less than this (standard deviation, 0-255).
# Measured on the fixtures: a covered lens 0.8, a face at 12 % brightness 8.5, scenes 30-75.
BLOCKED_STD_BELOW = 4.0
# Faces smaller than this fraction of the frame's shorter side are ignored: a webcam frame's
# exam taker fills a good part of it, and tiny detections are mostly false.
MIN_FACE_FRACTION = 1 / 8

FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


@dataclass
class Detection:
    faces: list[Box] = field(default_factory=list)
    profiles: list[Box] = field(default_factory=list)
    mean: float = 0.0
    spread: float = 0.0  # standard deviation of luminance

    @property
    def flags(self) -> list[str]:
        if self.spread < BLOCKED_STD_BELOW:
            return ["camera_blocked"]
        flags = []
        if not self.faces and not self.profiles:
            flags.append("no_face")
        elif not self.faces:
            flags.append("looking_away")
        elif len(self.faces) > 1:
            flags.append("multiple_faces")
        if self.mean < TOO_DARK_BELOW:
            flags.append("too_dark")
        elif self.mean > TOO_BRIGHT_ABOVE:
            flags.append("too_bright")
        return flags

    def scaled(self, x: float, y: float) -> Detection:
        """The same detection with its boxes in an image `x` times wider and `y` times taller
        (detection ran on a reduced copy)."""
        if x == y == 1:
            return self

        def scale(box: Box) -> Box:
            left, top, width, height = box
            return round(left * x), round(top * y), round(width * x), round(height * y)

        return Detection(
            faces=[scale(box) for box in self.faces],
            profiles=[scale(box) for box in self.profiles],
            mean=self.mean,
            spread=self.spread,
        )

    def as_answer(self) -> dict[str, Any]:
        return {
            "faces": {"count": len(self.faces), "boxes": [list(box) for box in self.faces]},
            "profiles": {"count": len(self.profiles), "boxes": [list(box) for box in self.profiles]},
            "mean_brightness": round(self.mean, 2),
            "brightness_spread": round(self.spread, 2),
            "flags": self.flags,
        }


# A cascade is not safe to share between threads running at once: one per thread.
_local = threading.local()


def _cascade(name: str) -> Any:
    cascades: dict[str, Any] | None = getattr(_local, "cascades", None)
    if cascades is None:
        cascades = _local.cascades = {}
    cascade = cascades.get(name)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
        if cascade.empty():
            raise RuntimeError(f"OpenCV's {name} is missing from cv2.data: reinstall opencv-python-headless")
        cascades[name] = cascade
    return cascade


def detect(gray: np.ndarray) -> Detection:
    """Faces and flags in an 8-bit grey image (height × width)."""
    mean, spread = float(gray.mean()), float(gray.std())
    if spread < BLOCKED_STD_BELOW:
        return Detection(mean=mean, spread=spread)
    # Equalised, so that a dim but visible face is still found (too_dark says it is dim).
    equalized = cv2.equalizeHist(gray)
    side = max(24, int(min(gray.shape[:2]) * MIN_FACE_FRACTION))
    faces = _find(FRONTAL, equalized, side)
    profiles: list[Box] = []
    if not faces:
        width = gray.shape[1]
        profiles = _find(PROFILE, equalized, side)
        # The cascade knows one direction; the mirrored image gives the other.
        for x, y, w, h in _find(PROFILE, cv2.flip(equalized, 1), side):
            profiles.append((width - x - w, y, w, h))
    return Detection(faces=faces, profiles=profiles, mean=mean, spread=spread)


def _find(name: str, image: np.ndarray, side: int) -> list[Box]:
    found = _cascade(name).detectMultiScale(image, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
