"""Every Redis key the pipeline writes is bounded in time or in size (issue 18, 8i): after a live
stack (daphne, a worker, the recording API) has delivered, refused and lost frames, each key
either expires or is one of the few whose size is bounded by design, each with its bound here."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis
from rq.registry import FailedJobRegistry
from websockets.sync.client import connect

from proctoring.gateway.tokens import make_token
from proctoring.models import FrameResult
from proctoring.store import keys
from tests.support import Reply, jpeg_bytes, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Keys kept without a TTL, each with what bounds it: a check on its size after the run.
Bound = Callable[[redis.Redis, str], bool]
BOUNDED_BY_SIZE: dict[str, Bound] = {
    # counters since the start: one field per outcome, reject code and API status
    keys.totals(): lambda r, k: r.hlen(k) <= 64,
    keys.stale_count(): lambda r, k: r.type(k) == b"string",
    # the last job events, trimmed at each write
    keys.recent_events(): lambda r, k: r.llen(k) <= 50,
    # one member per client, pruned by its last frame's time (counters.COUNTS_TTL)
    keys.clients_index(): lambda r, k: r.zcard(k) <= 3,
    # the failed-image byte accounting: capped by PROCTORING_FAILED_BYTES_* (failed_image.lua)
    keys.failed_image_total(): lambda r, k: r.type(k) == b"string",
    keys.failed_image_client_bytes(): lambda r, k: r.hlen(k) <= 3,
    keys.failed_image_sizes(): lambda r, k: r.hlen(k) <= 3,
    keys.failed_images(): lambda r, k: r.zcard(k) <= 3,
    # the fair-order rings: each client with frames waiting, once
    keys.clients_ring_sparse(): lambda r, k: r.llen(k) <= 1,
    keys.clients_ring_backlogged(): lambda r, k: r.llen(k) <= 1,
    keys.clients_ring_turn(): lambda r, k: r.hlen(k) <= 1,
}
# A count per latency bucket, one hash per measure (enqueue, api, wait, run, age), and beside
# each the least and greatest value per bucket (a sorted set, `keys.histogram_range`).
HISTOGRAM_PREFIX = keys.histogram("")


def histogram_bound(r: redis.Redis, key: str) -> bool:
    if r.type(key) == b"zset":
        return r.zcard(key) <= 32
    return r.hlen(key) <= 64


# RQ's own keys: its queue, registries and worker records, bounded by RQ (RQ-FACTS.md).
RQ_PREFIX = b"rq:"


def stream(port: int, attempt, frames: int) -> None:
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/"
    headers = {"Authorization": f"Bearer {make_token(attempt)}"}
    with connect(url, open_timeout=10, max_size=None, additional_headers=headers) as ws:
        for _ in range(frames):
            ws.send(jpeg_bytes())
            assert json.loads(ws.recv(timeout=10))["type"] == "ack"


def test_every_key_expires_or_is_bounded_in_size(
    attempt, api, start_daphne, start_worker, redis_conn, settings
):
    settings.PROCTORING_JOB_ATTEMPTS = 1  # the enqueue writes the job's retries: an outage fails at once
    _, port = start_daphne(PROCTORING_JOB_ATTEMPTS="1")
    failed = FailedJobRegistry("proctoring", connection=redis_conn)

    stream(port, attempt, 1)  # queued, no worker yet
    assert unbounded_keys(redis_conn) == [], "while a frame waits"
    start_worker(
        PROCTORING_JOB_ATTEMPTS="1", PROCTORING_BREAKER_THRESHOLD="0", PROCTORING_WORKER_CONCURRENCY="1"
    )
    wait_until(lambda: FrameResult.objects.count() == 1, 30, "the waiting frame delivered")

    api.script(Reply(400, {"error": "bad_image"}))  # refused: kept without image
    stream(port, attempt, 2)
    wait_until(lambda: failed.count == 2, 30, "two frames refused")
    api.script(Reply(503, {"error": "overloaded"}))  # an outage: kept with image
    stream(port, attempt, 2)
    wait_until(lambda: failed.count == 4, 30, "two frames lost to an outage")
    api.script(Reply(200, {"flags": ["no_face"]}))
    stream(port, attempt, 3)
    wait_until(lambda: FrameResult.objects.count() == 4, 30, "three more frames delivered")
    assert unbounded_keys(redis_conn) == [], "after frames delivered, refused and lost"


def unbounded_keys(redis_conn: redis.Redis) -> list[str]:
    """Keys kept for ever without a bound on their size."""
    unbounded = []
    for key in redis_conn.scan_iter():
        if key.startswith(RQ_PREFIX) or redis_conn.ttl(key) != -1:  # RQ's, expiring, or gone
            continue
        name = key.decode()
        bound = histogram_bound if name.startswith(HISTOGRAM_PREFIX) else BOUNDED_BY_SIZE.get(name)
        if bound is None or not bound(redis_conn, name):
            unbounded.append(f"{name} ({redis_conn.type(key)!r})")
    return unbounded
