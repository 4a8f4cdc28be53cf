"""What the reference API answers for one image: its format and size, and what the face detector
(`detection.py`) found in it, with timings.

An image's size is read from its header before any pixel is decoded: one claiming more than the
limit is refused, whatever its file size (a few hundred bytes of PNG can claim 8192×8192, which
would take seconds and a gigabyte to decode). A larger image than detection needs is decoded
reduced (a JPEG at 1/2, 1/4 or 1/8 scale by libjpeg itself, as OpenCV's `IMREAD_REDUCED_*`
would) and scaled down to `DETECT_PIXELS`; the boxes found are given in the image's own pixels.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from typing import Any

from PIL import Image

__all__ = ["DEFAULT_MAX_PIXELS", "DETECT_PIXELS", "ImageTooLarge", "NotAnImage", "analyze"]

DEFAULT_MAX_PIXELS = 1920 * 1080
# Detection runs on at most this many pixels: a webcam's face fills a good part of its frame and
# is found as well at 640×480, and what a larger copy costs (decoding it in colour, equalising
# it) grows with its pixels while the faces found do not.
DETECT_PIXELS = 640 * 480


class NotAnImage(ValueError):
    pass


class ImageTooLarge(Exception):
    """The image's header claims more pixels than the API decodes."""


def analyze(image_bytes: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Decodes the image (reduced when larger than detection needs), looks for faces, and says
    what it found.

    Raises:
        NotAnImage: not a decodable JPEG or PNG.
        ImageTooLarge: its header claims more than `max_pixels` (width × height); nothing is decoded.
    """
    # Imported here, not with the module: every process loads the URLs (and so this module), and
    # OpenCV and numpy cost each ~30 MB that only the process serving the reference API needs.
    import numpy as np

    from proctoring.reference_api.detection import detect

    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes), formats=["JPEG", "PNG"]) as image:
                fmt = image.format
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageTooLarge(
                        f"image is {width}x{height} ({width * height} pixels); "
                        f"the limit is {max_pixels} pixels"
                    )
                size = detection_size(width, height)
                if size != (width, height):
                    image.draft("L", size)  # a JPEG decodes reduced and in grey; a PNG ignores it
                gray_image = image.convert("L")
                if gray_image.size != size:
                    gray_image = gray_image.resize(size, Image.Resampling.BILINEAR)
                gray = np.asarray(gray_image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge(f"image is larger than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError):
        raise NotAnImage("not a decodable JPEG or PNG image") from None
    decoded = time.perf_counter()
    detection = detect(gray).scaled(width / size[0], height / size[1])
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


def detection_size(width: int, height: int) -> tuple[int, int]:
    """The size detection runs at: the image's own, or scaled down (same shape) to `DETECT_PIXELS`."""
    if width * height <= DETECT_PIXELS:
        return width, height
    scale = math.sqrt(DETECT_PIXELS / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))
