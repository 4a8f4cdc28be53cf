"""The waiting lists and the rings behind fair order (`PROCTORING_QUEUE_ORDER=fair`) and
latest-frame-wins (`PROCTORING_COALESCE=latest`).

Every frame waiting in the queue is also in its client's waiting list (oldest first), and every
client with a waiting frame is in one of two rings, once: the sparse ring, clients with at most
`SPARSE_BACKLOG` (2) frames waiting, and the backlogged ring, those with more.
Workers go round the sparse ring, one turn each (one frame; more in a priority window), and round
the backlogged ring only when no sparse client waits; a client changes rings as its backlog
crosses the bound. This is FQ-CoDel's sparse-flow rule (RFC 8290) on top of round-robin: a
well-behaved client, sending no faster than its share, is served as soon as its frame arrives,
however long the backlog of the clients that send more, and those share what is left, in turn.
Round-robin alone would make a well-behaved client wait a whole round for each frame; and a
client that falls behind once must not stay behind the heavy senders, which a bound on the
backlog (rather than "newly waiting clients first") ensures. Under backlog each worker
keeps a few threads free for the sparse clients (`proctoring.worker.slots`), and with latest-frame-wins
a client whose frame was replaced counts as backlogged (`HASTY_SECONDS`).

The enqueue script adds new frames (proctoring/store/scripts/enqueue.lua), the take script serves
them (take.lua beside it); jobs that come back to the queue through RQ (a retry that is due, an
abandoned job retried, a failed job requeued) join here, through our queue class.
"""

from __future__ import annotations

from typing import Any

import redis

from proctoring.store import keys, scripts

# A client with at most this many frames waiting is sparse: it goes round the sparse ring, which
# workers serve first.
SPARSE_BACKLOG = 2

# With latest-frame-wins a client never has more than one frame waiting, so the backlog cannot
# tell a client that sends faster than it is served: one whose frame was replaced is that, and
# for this long (seconds, renewed with each replacement) its frames go to the backlogged ring.
HASTY_SECONDS = 2

# How far into the queue's head a priority frame looks for the first normal frame; past this
# many priority frames waiting, a new one goes right after them (still before every normal one).
PRIORITY_SCAN = 256


def join(
    connection: redis.Redis, client_id: str, job_id: str, at_front: bool = False, pipeline: Any = None
) -> None:
    """Job `job_id`, back in the queue, joins its client's waiting list (and the client the
    sparse ring, if the job is its only one waiting), in `pipeline` when given."""
    from proctoring.queue.counters import COUNTS_TTL

    scripts.fairness_join(
        pipeline if pipeline is not None else connection,
        waiting=keys.client_waiting(client_id),
        sparse_ring=keys.clients_ring_sparse(),
        job_id=job_id,
        client_id=client_id,
        at_front=at_front,
        ttl=COUNTS_TTL,
    )
