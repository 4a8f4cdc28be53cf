"""What becomes of a frame the worker took: delivered (live or late), dropped past the backfill
horizon (recorded), or finally failed; each
outcome frees its client's slot and is counted, in one pipeline (or in the job's success batch,
under a batching worker). And reading a taken frame's envelope back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings

from proctoring.core.frames import FrameMeta
from proctoring.queue import breaker, counters, envelopes, failed_images, freshness, lateness, summed
from proctoring.store import keys
from proctoring.store.connections import get_redis
from proctoring.worker import job_context

RECOVERED = lateness.RECOVERED  # in a job's meta: how many times its worker died while running it
LATEST_TTL = 60  # seconds the dashboard's live thumbnail outlives its client's last frame
HINT_TTL = 10  # seconds a hint outlives the frame that caused it (a camera that stops sending)


def finish_delivered(
    client_id: str,
    job_id: str,
    flagged: bool = False,
    keep_latest: bool = False,
    hint: str | None = None,
    times: tuple[float, float, float] | None = None,
    kept: Callable[[], bool] = lambda: True,
    late: bool = False,
) -> None:
    """A delivered frame: its bytes go, its client's slot is free, it counts as completed (with
    the job's own success bookkeeping, in one batch, when a batching worker runs the job).
    After a `flagged` result, the client's next frames are queued with priority for a while.
    With `keep_latest`, the frame becomes its client's live thumbnail for a minute (copied in
    Redis, not sent back and forth). `hint` (or its absence) is what the exam taker's page is
    told in its next acks. `times` (wait, run, age in ms) go to the client's freshness figures.
    All of these only if `kept()`, asked when the writes run: not once the answer was dropped
    because the attempt was erased, whose keys must not come back. A `late` frame (sent as
    backfill) is counted `late` too; its freshness figures are not kept (they describe the live
    view)."""
    window = settings.PROCTORING_PRIORITY_AFTER_FLAG

    def write(pipe: Any) -> None:
        of_client = kept()
        # The per-frame copy and deletes stay in order (the thumbnail is copied before the
        # frame's bytes go); the counts, the circuit and the client's hint and refusals are
        # written once per batch of successes (`summed`).
        if keep_latest and of_client:
            pipe.copy(keys.frame(job_id), keys.client_latest(client_id), replace=True)
            pipe.expire(keys.client_latest(client_id), LATEST_TTL)
        counters.move(job_id, counters.DONE, pipeline=pipe, extra=counters.completed_field())
        pipe.delete(keys.frame(job_id))
        pipe.zrem(keys.client_pending(client_id), job_id)
        if times is not None and of_client and not late:
            freshness.record(pipe, client_id, *times)
        with summed.summed(pipe) as sums:
            breaker.record_success(sums)
            if hint and of_client:
                sums.set(keys.client_hint(client_id), hint, ex=HINT_TTL)
            else:
                sums.delete(keys.client_hint(client_id))
            if flagged and window and of_client:
                sums.set(keys.client_priority(client_id), 1, ex=window)
            counters.count_minute(sums, "completed")
            sums.hincrby(keys.totals(), "completed", 1)
            if late:
                sums.hincrby(keys.totals(), lateness.LATE, 1)
                counters.count_minute(sums, lateness.LATE)
            sums.delete(keys.client_refusals(client_id))  # the API takes this client's frames again

    if job_context.defer_on_success(write):
        return
    with get_redis().pipeline() as pipe:
        write(pipe)
        pipe.execute()


def frame_age(received_at: float, delay: float) -> float:
    """A taken frame's age for the cut (`lateness.age_of`: time paused left out), with the pauses
    its worker's take read when it did. With no live window, where the age decides nothing
    (`lateness.classify`: every frame is live), the pauses are not read."""
    pauses = job_context.prefetched_pauses()
    if pauses is None and not settings.PROCTORING_MAX_FRAME_AGE:
        pauses = lateness.Pauses()
    return lateness.age_of(get_redis(), received_at, delay, pauses=pauses)


def count_recovered(connection: Any, job_meta: dict[str, Any]) -> None:
    """A job taken back from a dead worker, to run again: marked so (never expired, however late:
    `lateness.classify`), and counted."""
    job_meta[RECOVERED] = int(job_meta.get(RECOVERED, 0)) + 1
    connection.hincrby(keys.totals(), RECOVERED, 1)


def drop_expired(client_id: str, job_id: str, seq: int, age: float, why: str) -> None:
    """A frame past the backfill horizon: its bytes go, its slot is free, it is counted (`stale`)
    and recorded in the expired list (client, seq, age, why) for the operator."""
    with get_redis().pipeline() as pipe:
        counters.move(job_id, counters.DONE, pipeline=pipe, extra="stale")
        pipe.delete(keys.frame(job_id))
        pipe.zrem(keys.client_pending(client_id), job_id)
        pipe.incr(keys.stale_count())
        lateness.record_expired(pipe, job_id, client_id, seq, age, why)
        # It may have been taken as the half-open circuit's probe: it tested nothing, so let
        # the next job probe at once (else a backlog of expired frames after an outage spends
        # one cooldown each, and the circuit stays half-open while fresh frames wait).
        breaker.release_probe(pipe)
        pipe.execute()


def finish_failed(client_id: str, job_id: str, kind: str = "", keep_image: bool = True) -> None:
    """A finally failed frame: its metadata stays as long as its failed job, its client's slot
    is free, and it counts as failed (and as failed of `kind`, its error's exception class) until
    RQ lets the failed job expire.

    Its image stays too only with `keep_image` (a failure its client did not cause: an outage
    is worth a retry), and only while the kept images fit `PROCTORING_FAILED_BYTES_MAX` and
    `PROCTORING_FAILED_BYTES_PER_CLIENT`; else the oldest kept images are cut to their header.
    A refused frame keeps no image, so a client cannot fill Redis with frames the API refuses,
    and counts among its client's refusals in a row: past `PROCTORING_REFUSALS_TO_SLOW` the
    client is asked to slow down, past `PROCTORING_REFUSALS_TO_BLOCK` its frames are refused at
    the gateway until `PROCTORING_REFUSAL_COOLDOWN` seconds pass without another.
    """
    with get_redis().pipeline() as pipe:
        counters.move(
            job_id, counters.FAILED, pipeline=pipe, failed_ttl=settings.PROCTORING_FAILED_TTL, extra=kind
        )
        counters.count_minute(pipe, "failed")
        pipe.hincrby(keys.totals(), "failed", 1)
        pipe.expire(keys.frame(job_id), settings.PROCTORING_FAILED_TTL)
        pipe.zrem(keys.client_pending(client_id), job_id)
        failed_images.settle(pipe, job_id, client_id, failed_images.KEEP if keep_image else failed_images.CUT)
        if not keep_image:
            pipe.incr(keys.client_refusals(client_id))
            pipe.expire(keys.client_refusals(client_id), settings.PROCTORING_REFUSAL_COOLDOWN)
        pipe.execute()


def image_digest(job_id: str) -> tuple[str, int] | None:
    """The sha256 (hex) and size of a taken frame's image, or None when it is not stored: what a
    failed frame's job keeps of an image that may not be kept."""
    stored = load_frame(job_id)
    if stored is None:
        return None
    return hashlib.sha256(stored[1]).hexdigest(), len(stored[1])


def load_frame(job_id: str) -> tuple[FrameMeta, bytes] | None:
    """A taken frame's metadata and image bytes (read along with its job when the worker did),
    or None when they are gone."""
    return envelopes.read_frame(job_id, job_context.prefetched_envelope(job_id))
