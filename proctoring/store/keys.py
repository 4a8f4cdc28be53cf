"""Every Redis key this project writes (besides RQ's own), built in one place.

proctoring:client:<client_id>:pending   sorted set of job ids (score: enqueue time) that are
                                        queued, running or waiting to retry for one client;
                                        its size is the per-client admission limit; expires a
                                        week after the client's last frame.
proctoring:client:<client_id>:counts    hash: queued, running, retrying (frames now in each
                                        state), completed:<UTC date>, stale, last_frame_at
                                        (proctoring/queue/counters.py).
proctoring:client:<client_id>:failed    sorted set of the client's failed job ids, scored by
                                        when RQ's failed registry lets them expire.
proctoring:client:<client_id>:priority  set for PROCTORING_PRIORITY_AFTER_FLAG seconds after a
                                        flagged result: the client's frames jump the queue.
proctoring:client:<client_id>:latest    the envelope of a recent delivered frame (every 4th, and
                                        every flagged one), kept 60 s: the proctor dashboard's
                                        live thumbnail; never persisted.
proctoring:client:<client_id>:hint      what the exam taker's page should say of the latest
                                        analysed frame (face_not_visible, camera_blocked,
                                        too_dark), 10 s; read by the enqueue, sent in acks.
proctoring:client:<client_id>:refusals  the client's frames the API refused in a row (none
                                        delivered since), kept PROCTORING_REFUSAL_COOLDOWN s
                                        past the last: slows, then stops its frames at the gateway.
proctoring:api:failures                 consecutive failed API calls (proctoring/queue/breaker.py).
proctoring:api:open                     set while the API's circuit is open (TTL: the cooldown).
proctoring:api:probe                    set while one probe job is let through a half-open circuit.
proctoring:clients                      sorted set of client ids by their last frame's time.
proctoring:failed:kind:<kind>           sorted set of failed job ids whose last error is of
                                        that kind (exception class), scored like the client's;
                                        like it, shed of expired ids at each failure and kept a
                                        day past its newest one.
proctoring:failed:kinds                 set of the kinds seen, kept a day past the newest failure.
proctoring:failed:images                sorted set of failed job ids whose image is kept (an
                                        outage's, not a refusal's), by failure time; with
proctoring:failed:image-sizes           hash: job id -> "<bytes> <client id>",
proctoring:failed:image-bytes           the bytes of all kept images,
proctoring:failed:image-bytes-per-client  hash: client id -> bytes of its kept images, and
proctoring:client:<id>:failed-images    the client's kept images, by failure time: the byte caps
                                        (store/scripts/failed_image.lua).
proctoring:frame:<job_id>               a frame's envelope (header and image bytes).
proctoring:stats:stale                  frames dropped past the backfill horizon, in all.
proctoring:expired                      sorted set, by drop time: each frame dropped past the backfill
                                        horizon (JSON: job, client, seq, age, why), kept a day and
                                        at most 10,000 (proctoring/queue/lateness.py).
proctoring:paused:since                 when the workers' pause began, while they are paused (a week at most).
proctoring:paused                       sorted set of past pauses ("<start> <end>", by end), kept
                                        as long as the backfill horizon: the frames' clock stops.
proctoring:stats:minute:<epoch minute>  hash: received, completed, late, failed, stale in that minute (UTC);
                                        kept an hour, for the admin's throughput chart.
proctoring:stats:totals                 hash: received, completed, failed, retried, recovered
                                        (jobs taken back from a dead worker), late (delivered as backfill),
                                        operator_retried, rejected:<code>,
                                        api_status:<status>, failed_images_evicted,
                                        results_dropped_erased since the start.
proctoring:connections:ip:<address>    sorted set of the open camera sockets from one IP address
                                        (scored by when their lease runs out; renewed by the
                                        gateway holding them): proctoring/gateway/connection_limits.py.
proctoring:connections:attempt:<id>     the same, for one attempt's sockets.
proctoring:selftest:seq                 the last seq of the test client's frames.
proctoring:client:<id>:waiting          list: the client's frames waiting in the queue, oldest
                                        first (priority ones first): proctoring/store/scripts/enqueue.lua.
proctoring:client:<id>:times            hash: the client's delivered frames per wait, run and age
                                        bucket ("wait:250": count), proctoring/queue/freshness.py.
proctoring:client:<id>:times-range      sorted set: the least and greatest value seen in each of
                                        those buckets ("wait:min:250", "wait:max:250"; score: ms).
proctoring:ring                         list: the backlogged ring, clients with more than 2
                                        frames waiting, in the order the workers visit them
                                        (PROCTORING_QUEUE_ORDER=fair; proctoring/queue/fairness.py).
proctoring:ring:new                     list: the sparse ring, clients with at most 2 frames
                                        waiting, served before the backlogged ring.
proctoring:ring:turn                    hash: frames the client at a ring's head has had in its turn.
proctoring:worker-name:<name>           set for a few seconds while a starting worker takes that
                                        name (proctoring/worker/names.py).
proctoring:stats:histogram:<name>       hash: a count per bucket (ms upper bound), sum_us, count
                                        (enqueue, api), for /metrics (proctoring/queue/metrics.py).
proctoring:events:recent                list: the last 50 job events (JSON), newest first, for the
                                        admin's overview (proctoring/queue/recent_events.py).
proctoring:api-key:<id>:calls:<minute>  the REST API calls of one key in that epoch minute, kept 2
                                        minutes: its rate limit (proctoring/api/throttling.py).
proctoring:lti:<key>                    an LTI launch between its OIDC login and its launch: the
                                        nonce issued (spent by the launch) and the state's
                                        parameters, kept 10 minutes (proctoring/lti/storage.py).
proctoring:lti-key-set:<sha256 of URL>  a platform's JWKS as fetched from its key set URL, kept 5
                                        minutes (proctoring/lti/storage.py).
proctoring:stats:histogram:<name>:range sorted set: the least and greatest value seen in each
                                        bucket ("min:250", "max:250"; score: ms), for percentiles.

Lua scripts (proctoring/store/scripts/) are given every key Python can name as KEYS. A key of a
client or job that a script only discovers while it runs (walking the rings, reconciling a
client's jobs) is passed as a template, `template(client_waiting)`: the key with `PLACEHOLDER`
where the id goes, expanded by the one Lua helper `key_for` (scripts/includes/key_for.lua).

The fair-order rings are named for what they hold, sparse and backlogged (`clients_ring_sparse`,
`clients_ring_backlogged`), but their keys keep the names they were created with (`ring:new`,
`ring`): a Redis with clients waiting in them keeps being served.
"""

from __future__ import annotations

from collections.abc import Callable

PREFIX = "proctoring"
CLIENT_PREFIX = f"{PREFIX}:client:"
FAILED_KIND_PREFIX = f"{PREFIX}:failed:kind:"
FAILED_KINDS = f"{PREFIX}:failed:kinds"
PLACEHOLDER = "{}"


def template(key_for: Callable[[str], str]) -> str:
    """The key `key_for` builds, with `PLACEHOLDER` where its id goes, for a Lua script to fill
    in with `key_for(template, id)` (e.g. `template(client_waiting)`)."""
    return key_for(PLACEHOLDER)


def client_pending(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:pending"


def client_counts(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:counts"


def client_failed(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:failed"


def client_priority(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:priority"


def client_latest(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:latest"


def client_waiting(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:waiting"


def client_hasty(client_id: str) -> str:
    """Set while a client's frames replace each other (latest-frame-wins): it is not sparse."""
    return f"{CLIENT_PREFIX}{client_id}:hasty"


def clients_ring_backlogged() -> str:
    """List: the backlogged ring (clients with more than `fairness.SPARSE_BACKLOG` frames waiting)."""
    return f"{PREFIX}:ring"


def clients_ring_turn() -> str:
    """Hash: how many frames the client at the head of a ring has had in its current turn."""
    return f"{PREFIX}:ring:turn"


def clients_ring_sparse() -> str:
    """List: the sparse ring (clients with at most `fairness.SPARSE_BACKLOG` frames waiting)."""
    return f"{PREFIX}:ring:new"


def client_refusals(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:refusals"


def client_times(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:times"


def client_times_range(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:times-range"


def client_hint(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:hint"


def clients_index() -> str:
    return f"{PREFIX}:clients"


def frame(job_id: str) -> str:
    return f"{PREFIX}:frame:{job_id}"


def stale_count() -> str:
    return f"{PREFIX}:stats:stale"


def expired() -> str:
    return f"{PREFIX}:expired"


def paused_since() -> str:
    return f"{PREFIX}:paused:since"


def pauses() -> str:
    return f"{PREFIX}:paused"


def minute(epoch_minute: int) -> str:
    return f"{PREFIX}:stats:minute:{epoch_minute}"


def totals() -> str:
    return f"{PREFIX}:stats:totals"


# Fields this project adds to an RQ worker's hash (beside RQ's successful_job_count, which counts
# every job that ended without an error, and failed_job_count, every attempt that raised): frame
# jobs delivered to the API, frame jobs that ended delivering nothing (expired: dropped past the
# backfill horizon), and frame jobs that failed for good (no retry left: in the failed registry).
WORKER_DELIVERED = "delivered_job_count"
WORKER_DROPPED = "dropped_job_count"
WORKER_FAILED_FOR_GOOD = "failed_for_good_job_count"
# The totals' field counting failed frames' images cut by the byte caps (queue/failed_images.py).
FAILED_IMAGES_EVICTED = "failed_images_evicted"
# The totals' field counting answers dropped because their attempt was erased while its frame ran
# (proctoring/results/writer.py).
RESULTS_DROPPED_ERASED = "results_dropped_erased"
# Times a gateway stopped reading a camera's socket because its frames waited for the consumer
# (proctoring_site.backpressure).
GATEWAY_READS_PAUSED = "gateway_reads_paused"


def attempt_control_channel() -> str:
    """The pub/sub channel of attempts' state changes and proctor messages, for the gateways."""
    return f"{PREFIX}:attempt-control"


def recent_events() -> str:
    return f"{PREFIX}:events:recent"


def histogram(name: str) -> str:
    return f"{PREFIX}:stats:histogram:{name}"


def histogram_range(name: str) -> str:
    return f"{PREFIX}:stats:histogram:{name}:range"


def failed_kind(kind: str) -> str:
    return f"{FAILED_KIND_PREFIX}{kind}"


def failed_images() -> str:
    return f"{PREFIX}:failed:images"


def failed_image_sizes() -> str:
    return f"{PREFIX}:failed:image-sizes"


def failed_image_total() -> str:
    return f"{PREFIX}:failed:image-bytes"


def failed_image_client_bytes() -> str:
    return f"{PREFIX}:failed:image-bytes-per-client"


def client_failed_images(client_id: str) -> str:
    return f"{CLIENT_PREFIX}{client_id}:failed-images"


def selftest_seq() -> str:
    return f"{PREFIX}:selftest:seq"


def api_failures() -> str:
    return f"{PREFIX}:api:failures"


def api_circuit_open() -> str:
    return f"{PREFIX}:api:open"


def api_probe() -> str:
    return f"{PREFIX}:api:probe"


def connections_of_ip(ip: str) -> str:
    return f"{PREFIX}:connections:ip:{ip}"


def connections_of_attempt(attempt_id: str) -> str:
    return f"{PREFIX}:connections:attempt:{attempt_id}"


def worker_name_claim(name: str) -> str:
    return f"{PREFIX}:worker-name:{name}"


def api_key_calls(key_id: int, minute: int) -> str:
    return f"{PREFIX}:api-key:{key_id}:calls:{minute}"


def webhooks_sweep() -> str:
    """Set for a minute by whoever last looked for webhook deliveries that were never queued."""
    return f"{PREFIX}:webhooks:sweep"


def lti_launch(key: str) -> str:
    return f"{PREFIX}:lti:{key}"


def lti_key_set(url_digest: str) -> str:
    return f"{PREFIX}:lti-key-set:{url_digest}"


# The templates the Lua scripts expand with `key_for` (see `template`), made once for every caller.
PENDING_TEMPLATE = template(client_pending)
COUNTS_TEMPLATE = template(client_counts)
FAILED_TEMPLATE = template(client_failed)
KIND_TEMPLATE = template(failed_kind)
FRAME_TEMPLATE = template(frame)
FRAME_PREFIX = frame("")  # a frame's key is this and its job id
FRAME_MATCH = frame("*")  # every frame's key, for SCAN's MATCH
WAITING_TEMPLATE = template(client_waiting)
PRIORITY_TEMPLATE = template(client_priority)
FAILED_IMAGES_TEMPLATE = template(client_failed_images)
