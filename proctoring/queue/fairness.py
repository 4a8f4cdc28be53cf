"""The waiting lists and the rings behind fair order (`PROCTORING_QUEUE_ORDER=fair`) and
latest-frame-wins (`PROCTORING_COALESCE=latest`).

Every frame waiting in the queue is also in its client's waiting list (oldest first), and every
client with a waiting frame is in one of two rings, once: the sparse ring, clients with at most
`enqueue_script.SPARSE_BACKLOG` (2) frames waiting, and the backlogged ring, those with more.
Workers go round the sparse ring, one turn each (one frame; more in a priority window), and round
the backlogged ring only when no sparse client waits; a client changes rings as its backlog
crosses the bound. This is FQ-CoDel's sparse-flow rule (RFC 8290) on top of round-robin: a
well-behaved client, sending no faster than its share, is served as soon as its frame arrives,
however long the backlog of the clients that send more, and those share what is left, in turn.
Measured (bench/fairness.py): plain round-robin made a 2 fps client wait a whole round for each
frame; serving only *newly* waiting clients first left one that fell behind once stuck behind the
heavy senders (p95 6.7 s); the bound of 2 keeps it among the sparse. Under backlog each worker
keeps a few threads free for the sparse clients (`proctoring.worker.slots`), and with latest-frame-wins
a client whose frame was replaced counts as backlogged (`enqueue_script.HASTY_SECONDS`).

The enqueue script adds new frames (`proctoring.queue.enqueue_script`), the take script serves
(`proctoring.worker.take_script`); jobs that come back to the queue through RQ (a retry that is due, an
abandoned job retried, a failed job requeued) join here, through our queue class.
"""

from __future__ import annotations

from typing import Any

import redis

from proctoring.store import keys

# KEYS: 1 the client's waiting list, 2 the sparse clients' ring. ARGV: 1 job id, 2 client id, 3 "1" at the
# front, 4 the list's TTL.
_JOIN = """
if ARGV[3] == '1' then
  redis.call('LPUSH', KEYS[1], ARGV[1])
else
  redis.call('RPUSH', KEYS[1], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
if redis.call('LLEN', KEYS[1]) == 1 then redis.call('RPUSH', KEYS[2], ARGV[2]) end
"""

_scripts: dict[int, Any] = {}


def join(
    connection: redis.Redis, client_id: str, job_id: str, at_front: bool = False, pipeline: Any = None
) -> None:
    """Job `job_id`, back in the queue, joins its client's waiting list (and the client the
    ring), in `pipeline` when given."""
    from proctoring.queue.counters import COUNTS_TTL

    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts.setdefault(id(connection), connection.register_script(_JOIN))
    script(
        keys=[keys.client_waiting(client_id), keys.clients_ring_new()],
        args=[job_id, client_id, "1" if at_front else "0", COUNTS_TTL],
        client=pipeline if pipeline is not None else connection,
    )
