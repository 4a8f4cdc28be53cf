"""What the reference API answers for one image: its format and size, and what the face detector
(`detection.py`) found in it, with timings."""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

import numpy as np
from PIL import Image

from proctoring.reference_api.detection import TOO_BRIGHT_ABOVE, TOO_DARK_BELOW, detect

__all__ = ["NotAnImage", "analyze", "TOO_DARK_BELOW", "TOO_BRIGHT_ABOVE"]


class NotAnImage(ValueError):
    pass


def analyze(image_bytes: bytes) -> dict[str, Any]:
    """Decodes the whole image (a real service would), looks for faces, and says what it found."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes), formats=["JPEG", "PNG"]) as image:
                image.load()
                fmt = image.format
                width, height = image.size
                gray = np.asarray(image.convert("L"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise NotAnImage("not a decodable JPEG or PNG image") from None
    decoded = time.perf_counter()
    detection = detect(gray)
    done = time.perf_counter()
    return {
        "format": fmt,
        "width": width,
        "height": height,
        "bytes": len(image_bytes),
        **detection.as_answer(),
        "timing": {
            "decode_ms": round((decoded - started) * 1000, 2),
            "detect_ms": round((done - decoded) * 1000, 2),
        },
        "analysis_ms": round((done - started) * 1000, 2),
    }
