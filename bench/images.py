"""Camera-like JPEGs for the benchmarks: a gradient with seeded noise, as incompressible as a camera's."""

from __future__ import annotations

import io
import random

from PIL import Image


def _test_card(width: int, height: int, noise: float) -> Image.Image:
    """A gradient blended with seeded RGB noise: a JPEG of it is camera-sized, not trivially small."""
    pixels = bytes(
        value
        for y in range(height)
        for x in range(width)
        for value in (x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height))
    )
    gradient = Image.frombytes("RGB", (width, height), pixels)
    speckle = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    return Image.blend(gradient, speckle, noise)


def _encode(image: Image.Image, quality: int) -> bytes:
    # Optimized Huffman tables leave the file as incompressible as a camera's (zlib shrinks it
    # well under 1%); with the default tables it shrinks ~2.5%, which would let RQ's compressed
    # job data fall into a smaller allocator size class than the frame itself.
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def make_frame(target_kb: float, width: int = 640, height: int = 480) -> bytes:
    """A JPEG whose size is the closest the encoder's quality setting gets to `target_kb`."""
    image = _test_card(width, height, noise=0.25)
    target = target_kb * 1000
    low, high = 1, 95
    while low < high:  # size grows with quality: find the lowest quality at or above the target
        middle = (low + high) // 2
        if len(_encode(image, middle)) < target:
            low = middle + 1
        else:
            high = middle
    candidates = [_encode(image, quality) for quality in {max(1, low - 1), low}]
    return min(candidates, key=lambda data: abs(len(data) - target))
