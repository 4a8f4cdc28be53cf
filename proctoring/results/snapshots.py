"""Incident snapshots: the only frame images kept after delivery, one per incident (its first
flagged frame), in Django's default storage under MEDIA_ROOT (`PROCTORING_SNAPSHOT_DIR`), never
served publicly: staff views read them through `read`."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}
CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}


def save(attempt_id: str, job_id: str, content_type: str, image: bytes) -> str:
    """Stores a frame's image and returns its storage key."""
    name = f"{attempt_id}/{job_id}{EXTENSIONS.get(content_type, '.bin')}"
    stored: str = default_storage.save(name, ContentFile(image))
    return stored


def read(key: str) -> tuple[bytes, str] | None:
    """A snapshot's bytes and content type, or None once it is gone."""
    if not key or not default_storage.exists(key):
        return None
    with default_storage.open(key, "rb") as handle:
        data = handle.read()
    suffix = key[key.rfind(".") :] if "." in key else ""
    return data, CONTENT_TYPES.get(suffix, "application/octet-stream")


def delete(key: str) -> None:
    if key:
        default_storage.delete(key)


def of_attempt(attempt_id: str) -> list[str]:
    """The keys of every snapshot file stored for an attempt (its folder), named by a row or not."""
    try:
        _, names = default_storage.listdir(attempt_id)
    except FileNotFoundError:
        return []
    return [f"{attempt_id}/{name}" for name in names]


def delete_attempt_folder(attempt_id: str) -> None:
    """Removes an attempt's snapshot folder once it is empty (a storage without folders has none)."""
    try:
        default_storage.delete(attempt_id)
    except OSError:
        pass
