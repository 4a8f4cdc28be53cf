"""Frame validation as pure code: bytes or a JSON text message in, a Frame or a FrameError out."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from proctoring.core.exceptions import BadFrame, BadMessage, FrameError, FrameTooLarge
from proctoring.core.frames import DEFAULT_MAX_PIXELS, MAX_SIDE_PIXELS, parse_image, parse_text_message
from proctoring.core.protocol import ErrorCode
from tests.support import claiming_size, jpeg_bytes, png_bytes

LIMIT = 1 << 20


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` and that ends properly, with no real pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def frame_message(image: str, **fields: Any) -> str:
    return json.dumps({"type": "frame", "image": image, **fields})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- error codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadMessage, ErrorCode.BAD_MESSAGE),
        (BadFrame, ErrorCode.BAD_FRAME),
        (FrameTooLarge, ErrorCode.FRAME_TOO_LARGE),
    ],
)
def test_each_frame_error_carries_its_protocol_code(error, code):
    assert issubclass(error, FrameError)
    assert error("x").code is code


# --- parse_image ----------------------------------------------------------------------------------


def test_jpeg_is_accepted_with_its_size_and_format():
    data = jpeg_bytes(64, 48)
    frame = parse_image(data, LIMIT)
    assert (frame.format, frame.width, frame.height) == ("JPEG", 64, 48)
    assert frame.content_type == "image/jpeg"
    assert frame.data == data
    assert frame.captured_at is None


def test_png_is_accepted_with_its_size_and_format():
    frame = parse_image(png_bytes(32, 24), LIMIT)
    assert (frame.format, frame.width, frame.height) == ("PNG", 32, 24)
    assert frame.content_type == "image/png"


def test_captured_at_given_to_parse_image_is_kept():
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_image(jpeg_bytes(), LIMIT, when).captured_at == when


def test_frame_of_exactly_the_limit_is_accepted_and_one_byte_more_is_too_large():
    data = jpeg_bytes()
    assert parse_image(data, len(data)).width == 64
    with pytest.raises(FrameTooLarge) as refused:
        parse_image(data, len(data) - 1)
    assert refused.value.code == ErrorCode.FRAME_TOO_LARGE
    assert str(len(data)) in str(refused.value)


def test_size_is_checked_before_the_content():
    with pytest.raises(FrameTooLarge):
        parse_image(b"not an image at all" * 100, 1024)


@pytest.mark.parametrize("data", [b"", b"hello, world", b"GIF89a" + b"\x00" * 64, b"\xff\xd8"])
def test_bytes_that_are_not_a_jpeg_or_png_are_a_bad_frame(data):
    with pytest.raises(BadFrame) as refused:
        parse_image(data, LIMIT)
    assert refused.value.code == ErrorCode.BAD_FRAME


@pytest.mark.parametrize("image", [jpeg_bytes(), png_bytes()], ids=["jpeg", "png"])
def test_image_cut_in_half_is_a_bad_frame(image):
    with pytest.raises(BadFrame, match="truncated"):
        parse_image(image[: len(image) // 2], LIMIT)


def test_jpeg_with_a_broken_header_but_an_end_marker_is_a_bad_frame():
    data = b"\xff\xd8\xff" + b"\x00" * 200 + b"\xff\xd9"
    with pytest.raises(BadFrame, match="cannot be decoded"):
        parse_image(data, LIMIT)


def test_a_wellformed_header_of_sane_size_is_accepted():
    # The control for the absurd-dimension cases below: the crafted PNG itself is fine.
    frame = parse_image(png_header_only(640, 480), LIMIT)
    assert (frame.width, frame.height) == (640, 480)


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (MAX_SIDE_PIXELS + 1, 10, "each side must be"),  # one side too long, few pixels in all
        (10, MAX_SIDE_PIXELS + 1, "each side must be"),
        (100_000, 100_000, "each side must be"),  # a decompression bomb's header
    ],
)
def test_absurd_dimensions_are_a_bad_frame(width, height, reason):
    with pytest.raises(BadFrame, match=reason):
        parse_image(png_header_only(width, height), LIMIT)


@pytest.mark.parametrize("image", [jpeg_bytes(), png_bytes()], ids=["jpeg", "png"])
def test_a_small_file_claiming_8192_by_8192_is_a_bad_frame_saying_why(image):
    crafted = claiming_size(image, 8192, 8192)
    assert len(crafted) < 1024, "a few hundred bytes: far under any byte limit"
    with pytest.raises(BadFrame) as refused:
        parse_image(crafted, LIMIT)
    assert refused.value.code == ErrorCode.BAD_FRAME
    assert str(refused.value) == (
        f"image is 8192x8192 (67108864 pixels); the limit is {DEFAULT_MAX_PIXELS} pixels"
    )


def test_the_pixel_limit_is_inclusive_and_defaults_to_a_webcam_picture():
    assert DEFAULT_MAX_PIXELS == 1920 * 1080
    assert parse_image(png_header_only(1920, 1080), LIMIT).width == 1920
    with pytest.raises(BadFrame, match="pixels"):
        parse_image(png_header_only(1920, 1081), LIMIT)


def test_the_pixel_limit_is_the_callers():
    data = jpeg_bytes(64, 48)
    assert parse_image(data, LIMIT, max_pixels=64 * 48).height == 48
    with pytest.raises(BadFrame, match="the limit is 3071 pixels"):
        parse_image(data, LIMIT, max_pixels=64 * 48 - 1)


def test_a_text_frame_has_the_same_pixel_limit():
    message = frame_message(b64(claiming_size(png_bytes(), 4000, 3000)))
    with pytest.raises(BadFrame, match="4000x3000"):
        parse_text_message(message, LIMIT)
    assert parse_text_message(message, LIMIT, max_pixels=4000 * 3000).width == 4000


# --- parse_text_message ---------------------------------------------------------------------------


def test_json_frame_with_base64_is_accepted():
    data = jpeg_bytes(40, 30)
    frame = parse_text_message(frame_message(b64(data)), LIMIT)
    assert (frame.format, frame.width, frame.height) == ("JPEG", 40, 30)
    assert frame.data == data


def test_json_frame_with_a_data_url_is_accepted():
    data = png_bytes()
    frame = parse_text_message(frame_message("data:image/png;base64," + b64(data)), LIMIT)
    assert frame.format == "PNG"
    assert frame.data == data


def test_data_url_that_is_not_base64_is_a_bad_frame():
    with pytest.raises(BadFrame, match="base64"):
        parse_text_message(frame_message("data:image/jpeg,rawbytes"), LIMIT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-04T05:06:07Z", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04T05:06:07.250+00:00", datetime(2025, 3, 4, 5, 6, 7, 250_000, tzinfo=UTC)),
        ("2025-03-04T07:06:07+02:00", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2025-03-04T05:06:07", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)),  # naive is taken as UTC
    ],
)
def test_captured_at_is_parsed_as_an_aware_datetime(text, expected):
    frame = parse_text_message(frame_message(b64(jpeg_bytes()), captured_at=text), LIMIT)
    assert frame.captured_at == expected
    assert frame.captured_at is not None and frame.captured_at.tzinfo is not None


def test_offset_of_captured_at_is_kept():
    frame = parse_text_message(
        frame_message(b64(jpeg_bytes()), captured_at="2025-03-04T07:06:07+02:00"), LIMIT
    )
    assert frame.captured_at is not None
    assert frame.captured_at.utcoffset() == timedelta(hours=2)


def test_captured_at_is_optional():
    assert parse_text_message(frame_message(b64(jpeg_bytes())), LIMIT).captured_at is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param("", id="empty"),
        pytest.param(json.dumps([{"type": "frame"}]), id="json-array"),
        pytest.param(json.dumps("frame"), id="json-string"),
        pytest.param(json.dumps({"type": "hello", "image": "aGk="}), id="unknown-type"),
        pytest.param(json.dumps({"image": "aGk="}), id="no-type"),
        pytest.param(json.dumps({"type": "frame"}), id="missing-image"),
        pytest.param(json.dumps({"type": "frame", "image": ""}), id="empty-image"),
        pytest.param(json.dumps({"type": "frame", "image": 12}), id="image-not-a-string"),
    ],
)
def test_text_that_is_not_a_frame_message_is_a_bad_message(text):
    with pytest.raises(BadMessage) as refused:
        parse_text_message(text, LIMIT)
    assert refused.value.code == ErrorCode.BAD_MESSAGE


def test_unknown_type_names_the_type():
    with pytest.raises(BadMessage, match="'hello'"):
        parse_text_message(json.dumps({"type": "hello", "image": "aGk="}), LIMIT)


@pytest.mark.parametrize("image", ["not base64!", "aGk", "data:image/jpeg;base64,@@@@"])
def test_invalid_base64_is_a_bad_frame(image):
    with pytest.raises(BadFrame) as refused:
        parse_text_message(frame_message(image), LIMIT)
    assert refused.value.code == ErrorCode.BAD_FRAME


def test_base64_of_something_that_is_not_an_image_is_a_bad_frame():
    with pytest.raises(BadFrame):
        parse_text_message(frame_message(b64(b"just some text")), LIMIT)


def test_oversize_base64_is_refused_as_too_large_before_decoding(monkeypatch):
    def no_decoding(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("decoded a frame that was already known to be too large")

    monkeypatch.setattr(base64, "b64decode", no_decoding)
    # Not even valid base64: had it been decoded first, this would be a bad frame.
    with pytest.raises(FrameTooLarge) as refused:
        parse_text_message(frame_message("!" * 8000), 4096)
    assert refused.value.code == ErrorCode.FRAME_TOO_LARGE


def test_oversize_data_url_is_refused_as_too_large():
    data = jpeg_bytes(200, 200)
    with pytest.raises(FrameTooLarge):
        parse_text_message(frame_message("data:image/jpeg;base64," + b64(data)), len(data) // 2)


def test_base64_frame_of_exactly_the_limit_is_accepted():
    data = jpeg_bytes()
    assert parse_text_message(frame_message(b64(data)), len(data)).data == data


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", "", 1700000000, ["2025-01-01"]])
def test_bad_captured_at_is_a_bad_message_showing_the_value(value):
    with pytest.raises(BadMessage, match="captured_at") as refused:
        parse_text_message(frame_message(b64(jpeg_bytes()), captured_at=value), LIMIT)
    assert refused.value.code == ErrorCode.BAD_MESSAGE
    assert repr(value) in str(refused.value)


@pytest.mark.parametrize(
    ("mode", "size", "options"),
    [
        ("RGB", (640, 480), {}),
        ("RGB", (321, 17), {"progressive": True}),
        ("L", (8, 4096), {}),
        ("RGB", (1280, 720), {"optimize": True, "exif": b"Exif\x00\x00" + b"\x00" * 4000}),
    ],
    ids=["baseline", "progressive", "grayscale", "with-exif-segment"],
)
def test_jpeg_size_is_read_from_its_frame_header_as_pillow_reads_it(mode, size, options):
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "JPEG", **options)
    data = buffer.getvalue()
    frame = parse_image(data, 1 << 20)
    with Image.open(io.BytesIO(data)) as image:
        assert (frame.width, frame.height) == image.size == size


def test_png_size_is_read_from_its_header_as_pillow_reads_it():
    buffer = io.BytesIO()
    Image.new("RGBA", (333, 222)).save(buffer, "PNG")
    frame = parse_image(buffer.getvalue(), 1 << 20)
    assert (frame.width, frame.height) == (333, 222)


def test_jpeg_whose_first_segment_is_the_image_data_is_a_bad_frame():
    data = b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 100 + b"\xff\xd9"
    with pytest.raises(BadFrame, match="cannot be decoded"):
        parse_image(data, LIMIT)
