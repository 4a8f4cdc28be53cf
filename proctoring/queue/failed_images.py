"""What finally failed frames keep of their images: never a refused frame's, and an outage's
only within `PROCTORING_FAILED_BYTES_MAX` in all and `PROCTORING_FAILED_BYTES_PER_CLIENT` per
client, the oldest cut to their header first (store/scripts/failed_image.lua keeps the count)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from rq.registry import FailedJobRegistry

from proctoring.queue import policy
from proctoring.store import keys, scripts

KEEP = "1"  # a failure its client did not cause: the image stays within the caps
CUT = "0"  # a failure its client caused: the image goes now, its header stays
FORGET = "-"  # the failed job was retried or deleted: its image no longer counts, its key untouched


def settle(pipe: Any, job_id: str, client_id: str, mode: str) -> None:
    """Queues on `pipe` what a failed job `job_id` of `client_id` keeps of its image (`mode`:
    KEEP, CUT or FORGET); the caps' cuts are counted in the totals' `keys.FAILED_IMAGES_EVICTED`."""
    now = time.time()
    scripts.failed_image(
        pipe,
        frame=keys.frame(job_id),
        images=keys.failed_images(),
        sizes=keys.failed_image_sizes(),
        total=keys.failed_image_total(),
        client_bytes=keys.failed_image_client_bytes(),
        failed_registry=FailedJobRegistry(queue=policy.get_queue()).key,
        totals=keys.totals(),
        job_id=job_id,
        client_id=client_id,
        mode=mode,
        now=now,
        expired_before=now - settings.PROCTORING_FAILED_TTL,
        max_bytes=settings.PROCTORING_FAILED_BYTES_MAX,
        client_max_bytes=settings.PROCTORING_FAILED_BYTES_PER_CLIENT,
        client_template=keys.FAILED_IMAGES_TEMPLATE,
        frame_template=keys.FRAME_TEMPLATE,
        evicted_field=keys.FAILED_IMAGES_EVICTED,
    )
