"""A stored frame read back: whole, or its metadata alone (the envelope's header, fetched with one
GETRANGE, alone or on a pipeline, and read the same way wherever it is needed)."""

from __future__ import annotations

from typing import Any

import redis

from proctoring.core.frames import HEADER_MAX_BYTES, FrameMeta, unpack_frame, unpack_header
from proctoring.store import keys
from proctoring.store.connections import get_redis

# The envelope's magic and length (5 bytes) and a header of at most HEADER_MAX_BYTES.
HEAD_BYTES = HEADER_MAX_BYTES + 5


def fetch_head(client: Any, key: str) -> Any:
    """The first bytes of the envelope at `key`, enough for its header (on a pipeline: queued)."""
    return client.getrange(key, 0, HEAD_BYTES - 1)


def meta_of(head: bytes | None) -> FrameMeta | None:
    """The metadata in an envelope's head; None when there is none or it is not an envelope."""
    if not head:
        return None
    try:
        return unpack_header(head)[0]
    except (ValueError, KeyError, TypeError):
        return None


def read_meta(job_id: str, connection: redis.Redis | None = None) -> FrameMeta | None:
    """A queued or failed frame's metadata, without reading its image; None when it is gone."""
    head = fetch_head(connection or get_redis(), keys.frame(job_id))
    return meta_of(head)


def read_frame(job_id: str, envelope: bytes | None = None) -> tuple[FrameMeta, bytes] | None:
    """A stored frame's metadata and image bytes (from `envelope` when the caller has it
    already), or None when they are gone or were not kept."""
    if envelope is None:
        envelope = get_redis().get(keys.frame(job_id))  # type: ignore[assignment]
    if envelope is None:
        return None
    assert isinstance(envelope, bytes)  # the client does not decode responses
    meta, image = unpack_frame(envelope)
    # A failed frame whose image was not kept is its header alone.
    return (meta, image) if image else None


def image_sizes(job_ids: list[str], connection: redis.Redis | None = None) -> list[int | None]:
    """The bytes of each job's stored image, in one round trip: 0 when only its metadata is
    kept (a failed frame whose image was not), None when its envelope is gone."""
    with (connection or get_redis()).pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.getrange(keys.frame(job_id), 0, 4)
            pipe.strlen(keys.frame(job_id))
        answers = pipe.execute()
    sizes: list[int | None] = []
    for head, length in zip(answers[::2], answers[1::2], strict=True):
        if not head or len(head) < 5:
            sizes.append(None)
        else:
            sizes.append(max(0, length - 5 - int.from_bytes(head[3:5], "big")))
    return sizes
