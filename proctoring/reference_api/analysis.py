"""What the reference API answers for one image: its format and size, and what the face detector
(`detection.py`) found in it, with timings."""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

from PIL import Image

__all__ = ["NotAnImage", "analyze"]


class NotAnImage(ValueError):
    pass


def analyze(image_bytes: bytes) -> dict[str, Any]:
    """Decodes the whole image (a real service would), looks for faces, and says what it found."""
    # Imported here, not with the module: every process loads the URLs (and so this module), and
    # OpenCV and numpy cost each ~30 MB that only the process serving the reference API needs.
    import numpy as np

    from proctoring.reference_api.detection import detect

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
