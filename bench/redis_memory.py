"""Redis bytes per queued frame, exactly: N clients each with a full pending set (the per-client
cap) of real 50 KB frames, enqueued through `proctoring.queue.enqueue.enqueue_frame` into a private
redis-server, against a plain SET of the same bytes.

    python -m bench.redis_memory [--clients 100] [--frame-kb 50]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

from bench.images import make_frame
from proctoring_site.embedded_redis import RedisServer


def measure(clients: int, frame_kb: float, workdir: Path) -> dict[str, float | int | str]:
    server = RedisServer(workdir / "redis").start(own_session=True)
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="proctoring_site.settings",
            DJANGO_DEBUG="true",
            DJANGO_ENV_FILE=str(workdir / "no.env"),
            REDIS_URL=server.url,
            PROCTORING_API_URL="http://127.0.0.1:9/unused",
        )
        import django

        django.setup()
        from django.conf import settings

        from proctoring.core.frames import parse_image
        from proctoring.queue import enqueue
        from proctoring.store.connections import get_redis

        data = make_frame(frame_kb)
        frame = parse_image(data, 1 << 21)
        redis = get_redis()
        per_client = settings.PROCTORING_MAX_PENDING_PER_CLIENT
        enqueue.enqueue_frame("warm-up", "warm-up", 0, frame)  # the queue's own keys exist before
        before = int(redis.info("memory")["used_memory"])
        job_id = ""
        for _ in range(clients):
            client = str(uuid.uuid4())
            for seq in range(1, per_client + 1):
                job_id = enqueue.enqueue_frame(client, client, seq, frame)
        frames = clients * per_client
        per_frame = (int(redis.info("memory")["used_memory"]) - before) / frames
        redis.set("bench:plain", data)
        plain = int(redis.memory_usage("bench:plain", samples=0) or 0)
        return {
            "frames": frames,
            "frame_bytes": len(data),
            "bytes_per_queued_frame": round(per_frame),
            "plain_set_bytes": plain,
            "over_plain_set": round(per_frame - plain),
            "job_hash_bytes": int(redis.memory_usage(f"rq:job:{job_id}", samples=0) or 0),
            "job_hash_encoding": str(redis.object("encoding", f"rq:job:{job_id}")),
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--frame-kb", type=float, default=50.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="redis-memory-bench-") as tmp:
        figures = measure(args.clients, args.frame_kb, Path(tmp))
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:24} {value:,}" if isinstance(value, int) else f"{name:24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
