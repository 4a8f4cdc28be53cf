"""What `REDIS_WAIT_REPLICAS=1` costs the gateway: the enqueue of a frame (the admission script)
with and without WAIT for one replica, on a private primary and replica on 127.0.0.1.

    .venv/bin/python -m bench.replica_wait --frames 2000 --concurrency 32

Prints p50/p95/p99 of one enqueue (ms) and frames/s, for each setting, sequential and with
`--concurrency` enqueues in flight (as many camera sockets on one gateway)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from proctoring_site.embedded_redis import RedisServer
from tests.support import wait_until


def _setup(primary: RedisServer, workdir: Path) -> None:
    os.environ.update(
        {
            "REDIS_URL": primary.url,
            "DJANGO_SETTINGS_MODULE": "proctoring_site.settings",
            "DJANGO_ENV_FILE": str(workdir / "no.env"),
            "DJANGO_DEBUG": "true",
            "PROCTORING_MAX_PENDING_PER_CLIENT": "1000000",
            "PROCTORING_MAX_QUEUED": "1000000",
        }
    )
    import django

    django.setup()


async def _run(frames: int, concurrency: int, replicas: int) -> tuple[list[float], float]:
    from django.conf import settings

    from proctoring.core.frames import Frame
    from proctoring.queue import enqueue
    from tests.support import jpeg_bytes

    settings.REDIS_WAIT_REPLICAS = replicas
    image = Frame(data=jpeg_bytes(320, 240), format="JPEG", width=320, height=240)
    await enqueue.aprepare()
    latencies: list[float] = []
    left = iter(range(frames))

    async def camera(index: int) -> None:
        for seq in left:
            started = time.perf_counter()
            await enqueue.aenqueue_frame(f"bench-{index}", f"bench-{index}", seq, image)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(camera(i) for i in range(concurrency)))
    return latencies, frames / (time.perf_counter() - started)


def _line(label: str, latencies: list[float], rate: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    spread = f"p50 {cuts[49]:6.2f} ms  p95 {cuts[94]:6.2f} ms  p99 {cuts[98]:6.2f} ms"
    return f"{label:<34} {spread}  {rate:8.0f} frames/s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-replica-wait-"))
    primary = RedisServer(workdir / "primary").start()
    replica = RedisServer(workdir / "replica", extra=("--replicaof", "127.0.0.1", str(primary.port))).start()
    try:
        with replica.client() as client:
            wait_until(
                lambda: client.info("replication")["master_link_status"] == "up", 30, "replica in sync"
            )
        _setup(primary, workdir)
        from proctoring.store.connections import get_redis

        for concurrency in (1, args.concurrency):
            for replicas in (0, 1):
                get_redis().flushall()
                latencies, rate = asyncio.run(_run(args.frames, concurrency, replicas))
                label = f"WAIT {replicas}, {concurrency} in flight"
                print(_line(label, latencies, rate), flush=True)
    finally:
        replica.stop()
        primary.stop()


if __name__ == "__main__":
    main()
