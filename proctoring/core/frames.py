"""Validating camera frames, as pure code: bytes in, a `Frame` or a `FrameError` out.

Only headers are parsed (the JPEG's segments up to its frame header, the PNG's IHDR chunk), plus a
check that the file ends as a complete JPEG or PNG does: decoding every pixel of every frame would
cost the gateway more than everything else it does, and a general image library's header parse
(Pillow's) does far more work per frame than reading the two formats' headers directly.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from proctoring.core.exceptions import BadFrame, BadMessage, FrameTooLarge
from proctoring.core.protocol import MessageType

JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
MAX_SIDE_PIXELS = 8192
# Width × height: a webcam's picture (PROCTORING_MAX_FRAME_PIXELS's default, which the gateway
# passes). A few hundred bytes of PNG can claim 8192×8192, which the API would decode whole.
DEFAULT_MAX_PIXELS = 1920 * 1080
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass(frozen=True)
class Frame:
    """One validated image from a camera client."""

    data: bytes
    format: str  # "JPEG" or "PNG"
    width: int
    height: int
    captured_at: datetime | None = None  # the client's claim; `core.clock` decides what is kept

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def parse_image(
    data: bytes,
    max_bytes: int,
    captured_at: datetime | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Frame:
    """Checks that `data` is one complete JPEG or PNG of at most `max_bytes`, whose header
    claims at most `max_pixels` (width × height) and at most `MAX_SIDE_PIXELS` a side."""
    if len(data) > max_bytes:
        raise FrameTooLarge(f"frame is {len(data)} bytes, the limit is {max_bytes}")
    if data.startswith(JPEG_MAGIC):
        expected, end = "JPEG", JPEG_END
    elif data.startswith(PNG_MAGIC):
        expected, end = "PNG", PNG_END
    else:
        raise BadFrame(f"not a JPEG or PNG image (starts with {data[:8].hex() or 'nothing'})")
    # Some encoders pad after the end marker; a truncated upload has no end marker at all.
    if end not in data[-64:]:
        raise BadFrame(f"{expected} image is truncated (no end marker)")
    try:
        width, height = _jpeg_size(data) if expected == "JPEG" else _png_size(data)
    except ValueError:
        raise BadFrame(f"{expected} image cannot be decoded") from None
    if not (0 < width <= MAX_SIDE_PIXELS and 0 < height <= MAX_SIDE_PIXELS):
        raise BadFrame(f"image is {width}x{height}; each side must be 1 to {MAX_SIDE_PIXELS} pixels")
    if width * height > max_pixels:
        raise BadFrame(
            f"image is {width}x{height} ({width * height} pixels); the limit is {max_pixels} pixels"
        )
    return Frame(data=data, format=expected, width=width, height=height, captured_at=captured_at)


# Start-of-frame markers (baseline, progressive, lossless…): all of 0xC0-0xCF but DHT (C4),
# JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, with no length after them: TEM and the restart markers.
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from the JPEG's frame header, walking its segments from the start."""
    index, end = 2, len(data)
    while index + 4 <= end:
        if data[index] != 0xFF:
            raise ValueError("segment does not start with a marker")
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in _STANDALONE_MARKERS:
            index += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):
            raise ValueError("no frame header before the image data")
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if length < 2:
            raise ValueError("segment length below 2")
        if marker in _SOF_MARKERS:
            if length < 8 or index + 9 > end:
                raise ValueError("frame header cut short")
            height = int.from_bytes(data[index + 5 : index + 7], "big")
            width = int.from_bytes(data[index + 7 : index + 9], "big")
            return width, height
        index += 2 + length
    raise ValueError("no frame header")


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, which must come first."""
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ValueError("no IHDR chunk")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def parse_text_message(text: str, max_bytes: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Frame:
    """Parses a JSON text message; the only one known is `{"type": "frame", "image": ...}`.

    `image` is base64 or a `data:image/...;base64,` URL; `captured_at` (ISO 8601) is optional,
    and only the client's claim: the gateway keeps it only near the receive time
    (`proctoring.core.clock`).
    """
    try:
        message = json.loads(text)
    except ValueError:
        raise BadMessage("text message is not JSON") from None
    if not isinstance(message, dict):
        raise BadMessage(f"expected a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if kind != MessageType.FRAME:
        raise BadMessage(f"unknown message type {kind!r}; send binary frames or type 'frame'")
    image = message.get("image")
    if not isinstance(image, str) or not image:
        raise BadMessage("a frame message needs 'image': base64 or a data URL")
    captured_at = _parse_timestamp(message.get("captured_at"))
    return parse_image(_decode_base64(image, max_bytes), max_bytes, captured_at, max_pixels=max_pixels)


def parse_message_read(text: str) -> int | None:
    """The message id of a `{"type": "message_read", "id": N}` text message, or None if `text`
    is some other message (a frame). A cheap look first: frames are the common case, and a
    base64 image cannot hold the type's name.

    Raises:
        BadMessage: a `message_read` whose id is not a positive integer.
    """
    if f'"{MessageType.MESSAGE_READ.value}"' not in text:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != MessageType.MESSAGE_READ:
        return None
    message_id = message.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 0 < message_id < 2**63:
        raise BadMessage(f"message_read needs 'id': a message's id, got {message_id!r}")
    return message_id


def _decode_base64(image: str, max_bytes: int) -> bytes:
    if image.startswith("data:"):
        header, sep, image = image.partition(",")
        if not sep or not header.endswith(";base64"):
            raise BadFrame("data URL must be base64-encoded (data:image/jpeg;base64,...)")
    # Refuse before decoding: base64 is 4 characters per 3 bytes.
    estimated = len(image) * 3 // 4
    if estimated > max_bytes + 3:
        raise FrameTooLarge(f"frame is about {estimated} bytes, the limit is {max_bytes}")
    try:
        return base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise BadFrame("image is not valid base64") from None


def _parse_timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadMessage(f"captured_at must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadMessage(f"captured_at must be an ISO 8601 string, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FrameMeta:
    """What travels with a frame's bytes through the queue to the API (never the bytes themselves)."""

    client_id: str
    attempt_id: str
    seq: int
    captured_at: datetime
    received_at: datetime
    content_type: str
    delay: float = 0.0  # seconds it was held back on purpose before it could be sent
    # The client's capture time was out of bounds and replaced by the receive time
    # (`proctoring.core.clock`): kept with the evidence so a reviewer knows the time is the server's.
    clock_corrected: bool = False


# A queued frame is stored as one Redis string: magic, a 2-byte header length, a JSON header with
# its FrameMeta, then the image bytes as they came. One key holds everything a worker needs, and
# the RQ job itself stays small (see proctoring/queue/enqueue.py).
_ENVELOPE_MAGIC = b"PF1"
HEADER_MAX_BYTES = 1024


def pack_frame(meta: FrameMeta, image: bytes) -> bytes:
    header = json.dumps(
        {
            "client_id": meta.client_id,
            "attempt_id": meta.attempt_id,
            "seq": meta.seq,
            "captured_at": meta.captured_at.isoformat(),
            "received_at": meta.received_at.isoformat(),
            "content_type": meta.content_type,
            **({"delay": meta.delay} if meta.delay else {}),
            **({"clock_corrected": 1} if meta.clock_corrected else {}),
        },
        separators=(",", ":"),
    ).encode()
    return _ENVELOPE_MAGIC + len(header).to_bytes(2, "big") + header + image


def unpack_header(envelope: bytes) -> tuple[FrameMeta, int]:
    """The frame's metadata and where its image starts; the envelope may be cut after the header."""
    if not envelope.startswith(_ENVELOPE_MAGIC) or len(envelope) < 5:
        raise ValueError("not a stored frame")
    length = int.from_bytes(envelope[3:5], "big")
    fields = json.loads(envelope[5 : 5 + length])
    meta = FrameMeta(
        client_id=fields["client_id"],
        attempt_id=fields["attempt_id"],
        seq=int(fields["seq"]),
        captured_at=datetime.fromisoformat(fields["captured_at"]),
        received_at=datetime.fromisoformat(fields["received_at"]),
        content_type=fields["content_type"],
        delay=float(fields.get("delay", 0.0)),
        clock_corrected=bool(fields.get("clock_corrected", 0)),
    )
    return meta, 5 + length


def unpack_frame(envelope: bytes) -> tuple[FrameMeta, bytes]:
    meta, start = unpack_header(envelope)
    return meta, envelope[start:]
