"""How fast the admin's queue pages answer with a big queue: N queued 1 KB frames over C clients
(exam attempts) and F failed jobs, in a private redis-server and SQLite database, each page
fetched R times by a staff user through Django's test client (the whole view, template and
middleware; no HTTP server in between).

    python -m bench.admin_pages [--queued 100000] [--failed 10000] [--clients 1000] [--repeat 5]

Failed jobs are made the way RQ records a final failure (FailedJobRegistry.add with the
exception text, status failed) and moved in the per-client counts as the worker's failure path
moves them; queued frames go through `proctoring.queue.enqueue.enqueue_frame`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.images import make_frame
from proctoring_site.embedded_redis import RedisServer

PAGES = {
    "overview": "/admin/proctoring/queue/",
    "stats.json": "/admin/proctoring/queue/stats.json",
    "per client (page 1, by backlog)": "/admin/proctoring/queue/clients/",
    "failed jobs (page 1)": "/admin/proctoring/queue/failed/",
    "failed jobs of one client": "/admin/proctoring/queue/failed/?client={client}",
    "failed jobs of one kind (page 2)": "/admin/proctoring/queue/failed/?kind=ApiRejected&page=2",
    "job detail (failed)": "/admin/proctoring/queue/jobs/{failed_job}/",
    "/metrics": "/metrics",
}


def fill(queued: int, failed: int, clients: int, progress: bool) -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from rq.job import Job, JobStatus
    from rq.registry import FailedJobRegistry

    from exams.models import Attempt, Exam
    from proctoring.core.frames import parse_image
    from proctoring.queue import counters, enqueue, policy
    from proctoring.store.connections import get_redis

    user = get_user_model().objects.create_user("taker", password="bench-pass-123")
    exam = Exam.objects.create(slug="bench", title="Bench")
    client_ids = [str(Attempt.objects.create(user=user, exam=exam).pk) for _ in range(clients)]
    frame = parse_image(make_frame(1, 160, 120), 1 << 20)
    started = time.monotonic()
    total = queued + failed
    failed_ids: list[str] = []
    for index in range(total):
        client = client_ids[index % clients]
        job_id = enqueue.enqueue_frame(client, client, index, frame)
        if index >= queued:
            failed_ids.append(job_id)
        if progress and index % 10_000 == 0:
            print(f"[bench] queued {index:,}/{total:,} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    # Final failures, as RQ records them, for the last F frames (taken off the queue first).
    connection = get_redis()
    queue = policy.get_queue()
    registry = FailedJobRegistry(queue=queue)
    jobs = Job.fetch_many(failed_ids, connection=connection)
    exc = "Traceback (most recent call last):\nproctoring.exceptions.ApiRejected: API answered 422: no face\n"
    for start in range(0, len(jobs), 1000):
        with connection.pipeline() as pipe:
            for job in jobs[start : start + 1000]:
                assert job is not None
                pipe.lrem(queue.key, 1, job.id)
                job.meta["last_error"] = "ApiRejected: API answered 422: no face"
                job.meta["api_status"] = 422
                job.meta["api_body"] = '{"error": "no face"}'
                job.set_status(JobStatus.FAILED, pipeline=pipe)
                job.save_meta()
                registry.add(job, ttl=job.failure_ttl, exc_string=exc, pipeline=pipe)
            pipe.execute()
        for job in jobs[start : start + 1000]:
            assert job is not None
            counters.move(job.id, counters.FAILED, failed_ttl=job.failure_ttl or 3600, extra="ApiRejected")
    get_user_model().objects.create_user("ops", password="bench-pass-123", is_staff=True, is_superuser=True)
    return {"client": client_ids[0], "failed_job": failed_ids[-1]}


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server = RedisServer(workdir / "redis").start(own_session=True)
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="proctoring_site.settings",
            DJANGO_DEBUG="false",
            DJANGO_HTTPS="false",
            DJANGO_SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1",
            DJANGO_ENV_FILE=str(workdir / "no.env"),
            DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
            REDIS_URL=server.url,
            PROCTORING_API_URL="http://127.0.0.1:9/unused",
            PROCTORING_MAX_PENDING_PER_CLIENT=str(10**9),
            PROCTORING_MAX_QUEUED=str(10**9),
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        call_command("migrate", verbosity=0)
        names = fill(args.queued, args.failed, args.clients, progress=not args.json)
        client = Client()
        client.login(username="ops", password="bench-pass-123")
        timings: dict[str, dict[str, float]] = {}
        for label, template in PAGES.items():
            url = template.format(**names)
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            timings[label] = {
                "median_ms": round(statistics.median(samples), 1),
                "max_ms": round(max(samples), 1),
            }
        return {
            "queued": args.queued,
            "failed": args.failed,
            "clients": args.clients,
            "repeat": args.repeat,
            "pages": timings,
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--failed", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="admin-pages-bench-") as tmp:
        figures = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"{figures['queued']:,} queued and {figures['failed']:,} failed frame jobs over "
        f"{figures['clients']:,} clients; {figures['repeat']} fetches per page"
    )
    for label, timing in figures["pages"].items():
        print(f"  {label:34} median {timing['median_ms']:8.1f} ms   max {timing['max_ms']:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
