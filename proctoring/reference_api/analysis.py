"""Image facts the reference API answers with (face detection comes later)."""

from __future__ import annotations

import io
import time
import warnings
from typing import Any

from PIL import Image, ImageStat

TOO_DARK_BELOW = 40.0  # mean luminance, 0-255
TOO_BRIGHT_ABOVE = 235.0


class NotAnImage(ValueError):
    pass


def analyze(image_bytes: bytes) -> dict[str, Any]:
    """Decodes the whole image (a real service would) and reports its size and brightness."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes), formats=["JPEG", "PNG"]) as image:
                image.load()
                fmt = image.format
                width, height = image.size
                gray = image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise NotAnImage("not a decodable JPEG or PNG image") from None
    brightness = float(ImageStat.Stat(gray).mean[0])
    flags = []
    if brightness < TOO_DARK_BELOW:
        flags.append("too_dark")
    elif brightness > TOO_BRIGHT_ABOVE:
        flags.append("too_bright")
    return {
        "format": fmt,
        "width": width,
        "height": height,
        "bytes": len(image_bytes),
        "mean_brightness": round(brightness, 2),
        "flags": flags,
        "analysis_ms": round((time.perf_counter() - started) * 1000, 2),
    }
