"""The reference proctoring API (`POST /reference-api/v1/analyze`), and the API client against it.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/reference_api/test_reference_api.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ImageFile

from tests.support import claiming_size, fixture, jpeg_bytes, png_bytes

URL = "/reference-api/v1/analyze"
FIELDS = {
    "client_id": "client-1",
    "attempt_id": "attempt-1",
    "seq": "3",
    "captured_at": "2025-01-02T03:04:05Z",
}


def upload(data: bytes | None = None, name: str = "frame.jpg", content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, jpeg_bytes() if data is None else data, content_type=content_type)


def post(client: Any, *, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    """POSTs multipart form data: the required fields and an image, with `overrides` (None drops one)."""
    data: dict[str, Any] = {**FIELDS, "image": upload()}
    for name, value in overrides.items():
        if value is None:
            data.pop(name)
        else:
            data[name] = value
    return client.post(URL, data, headers=headers or {})


@pytest.fixture(autouse=True)
def no_key(settings):
    settings.REFERENCE_API_KEY = ""


def test_jpeg_is_analysed_and_the_fields_echoed(client):
    response = post(client, image=upload(fixture("one_face.jpg")))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert (answer["format"], answer["width"], answer["height"]) == ("JPEG", 320, 240)
    assert answer["faces"]["count"] == 1 and len(answer["faces"]["boxes"]) == 1
    assert answer["flags"] == []
    assert set(answer["timing"]) == {"decode_ms", "detect_ms"}
    assert answer["replayed"] is False
    assert {name: answer[name] for name in FIELDS} == {**FIELDS, "seq": int(FIELDS["seq"])}


def test_png_is_analysed(client):
    response = post(client, image=upload(png_bytes(32, 24), "frame.png", "image/png"))
    assert response.status_code == 200
    assert (response.json()["format"], response.json()["width"], response.json()["height"]) == ("PNG", 32, 24)


@pytest.mark.parametrize(
    "color", [(255, 255, 255), (120, 120, 120), (0, 0, 0)], ids=["white", "grey", "black"]
)
def test_a_uniform_frame_is_a_blocked_camera(client, color):
    answer = post(client, image=upload(jpeg_bytes(color=color))).json()
    assert answer["flags"] == ["camera_blocked"]
    assert answer["faces"]["count"] == 0


@pytest.mark.parametrize(
    "data",
    [b"just some text", jpeg_bytes()[:200], b"GIF89a" + b"\x00" * 64],
    ids=["text", "truncated", "gif"],
)
def test_upload_that_is_not_an_image_is_400(client, data):
    response = post(client, image=upload(data))
    assert response.status_code == 400
    assert response.json()["error"] == "not_an_image"


def test_missing_image_is_400(client):
    response = post(client, image=None)
    assert response.status_code == 400
    assert response.json()["error"] == "missing_image"


@pytest.mark.parametrize("field", list(FIELDS))
def test_missing_field_is_400_naming_it(client, field):
    response = post(client, **{field: None})
    assert response.status_code == 400
    assert response.json()["error"] == "missing_fields"
    assert field in response.json()["detail"]


def test_empty_field_counts_as_missing(client):
    response = post(client, client_id="")
    assert response.status_code == 400
    assert "client_id" in response.json()["detail"]


def test_get_is_405(client):
    assert client.get(URL).status_code == 405


# --- image bounds -----------------------------------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch):
    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("decoded an image whose header was already too large")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize(
    ("image", "name"), [(jpeg_bytes(), "frame.jpg"), (png_bytes(), "frame.png")], ids=["jpeg", "png"]
)
def test_an_image_claiming_8192_by_8192_is_413_from_its_header_alone(client, no_decoding, image, name):
    response = post(client, image=upload(claiming_size(image, 8192, 8192), name))
    assert response.status_code == 413
    assert response.json() == {
        "error": "image_too_large",
        "detail": "image is 8192x8192 (67108864 pixels); the limit is 2073600 pixels",
    }


def test_an_image_past_pillows_own_bomb_limit_is_413_too(client, no_decoding):
    response = post(client, image=upload(claiming_size(png_bytes(), 20000, 20000), "frame.png"))
    assert response.status_code == 413
    assert response.json()["error"] == "image_too_large"


def test_the_pixel_limit_is_reference_api_max_pixels(client, settings):
    settings.REFERENCE_API_MAX_PIXELS = 64 * 48
    assert post(client, image=upload(jpeg_bytes(64, 48))).status_code == 200
    response = post(client, image=upload(jpeg_bytes(64, 49)))
    assert response.status_code == 413
    assert response.json()["detail"] == "image is 64x49 (3136 pixels); the limit is 3072 pixels"


# --- the key ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "the-key"}, {"Authorization": "Basic the-key"}],
    ids=["none", "wrong-key", "no-scheme", "other-scheme"],
)
def test_with_a_key_set_a_request_without_it_is_401(client, settings, headers):
    settings.REFERENCE_API_KEY = "the-key"
    response = post(client, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_with_a_key_set_the_bearer_key_is_let_in(client, settings):
    settings.REFERENCE_API_KEY = "the-key"
    assert post(client, headers={"Authorization": "Bearer the-key"}).status_code == 200


def test_without_a_key_set_no_authorization_is_needed(client):
    assert post(client).status_code == 200


# --- Idempotency-Key --------------------------------------------------------------------------------


def test_same_idempotency_key_replays_the_first_answer(client):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = post(client, headers=headers, image=upload(jpeg_bytes(64, 48)))
    second = post(client, headers=headers, image=upload(jpeg_bytes(64, 48)))  # a retry: the same frame
    assert first.status_code == second.status_code == 200
    assert first.json()["replayed"] is False
    assert second.json() == {**first.json(), "replayed": True}


@pytest.mark.parametrize(
    "other",
    [{"image": jpeg_bytes(10, 10)}, {"attempt_id": "attempt-2"}, {"seq": "4"}],
    ids=["other-image", "other-attempt", "other-seq"],
)
def test_the_same_idempotency_key_with_another_request_is_422_not_the_first_answer(client, other):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = post(client, headers=headers, image=upload(jpeg_bytes(64, 48)))
    overrides = {**other, "image": upload(other.get("image", jpeg_bytes(64, 48)))}
    second = post(client, headers=headers, **overrides)
    assert first.status_code == 200
    assert second.status_code == 422
    assert second.json()["error"] == "idempotency_key_reused"
    assert "faces" not in second.json()


def test_another_caller_with_the_same_idempotency_key_is_analysed_afresh(client, settings):
    """Issue 18, 8j: the cache is keyed by caller, so knowing a job id reads nobody's answer."""
    settings.REFERENCE_API_KEY = "the-key"
    key = str(uuid.uuid4())
    image = jpeg_bytes(64, 48)
    first = post(
        client, headers={"Idempotency-Key": key, "Authorization": "Bearer the-key"}, image=upload(image)
    )
    settings.REFERENCE_API_KEY = ""  # a second caller, with other credentials, of a keyless API
    second = post(client, headers={"Idempotency-Key": key}, image=upload(image))
    assert first.json()["replayed"] is False
    assert second.status_code == 200 and second.json()["replayed"] is False


def test_different_idempotency_keys_are_analysed_separately(client):
    first = post(client, headers={"Idempotency-Key": str(uuid.uuid4())}, image=upload(jpeg_bytes(64, 48)))
    second = post(client, headers={"Idempotency-Key": str(uuid.uuid4())}, image=upload(jpeg_bytes(10, 10)))
    assert (first.json()["width"], second.json()["width"]) == (64, 10)
    assert first.json()["replayed"] is second.json()["replayed"] is False


def test_without_idempotency_key_nothing_is_replayed(client):
    assert post(client).json()["replayed"] is False
    assert post(client).json()["replayed"] is False


# --- the API client against a live reference API ------------------------------------------------------


def test_seq_that_is_not_a_number_is_400(client):
    response = post(client, seq="seven")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_seq"
