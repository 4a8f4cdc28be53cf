"""Clients spread over two independent Redis primaries (`REDIS_SHARDS`): the gateway puts each
client's frames on its own shard, one worker per shard delivers them, and the figures of the
admin pages, `proctoring_stats` and /metrics add both shards up.

Here the tests that start real processes;
the others are in tests/unit/store/test_shards.py."""

from __future__ import annotations

import zlib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from websockets.sync.client import connect

from exams.models import Attempt
from proctoring.gateway.tokens import make_token
from proctoring.live import dashboard
from proctoring.ops import collector, stats
from proctoring.queue import enqueue, policy
from proctoring.store import keys, shards
from proctoring_site.embedded_redis import RedisServer
from tests.support import jpeg_bytes, wait_until

FRAMES = 4  # per client


@pytest.fixture
def two_shards(tmp_path: Path):
    servers = [RedisServer(tmp_path / f"shard-{i}").start() for i in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_shards_each_client_on_its_own_and_the_figures_add_up(
    two_shards, exam, api, start_daphne, start_worker, settings
):
    urls = [server.url for server in two_shards]
    env = {"REDIS_URL": "", "REDIS_SHARDS": ",".join(urls)}
    users = get_user_model()
    attempts: list[Attempt] = []
    by_shard: dict[int, list[str]] = {0: [], 1: []}
    for i in range(40):  # until each shard has three clients
        if min(len(ids) for ids in by_shard.values()) >= 3:
            break
        attempt = Attempt.objects.create(
            user=users.objects.create_user(f"t{i}"), exam=exam, consented_at=timezone.now()
        )
        index = zlib.crc32(str(attempt.pk).encode()) % 2
        if len(by_shard[index]) < 3:
            by_shard[index].append(str(attempt.pk))
            attempts.append(attempt)
    _, port = start_daphne(REDIS_SHARD="0", **env)
    for index, server in enumerate(two_shards):
        with server.client() as watch:
            start_worker(watch=watch, REDIS_SHARD=str(index), **env)

    acked: dict[str, list[str]] = {}
    for attempt in attempts:
        url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
        with connect(url, open_timeout=10) as ws:
            for _ in range(FRAMES):
                ws.send(jpeg_bytes())
                answer = str(ws.recv(timeout=10))
                assert '"ack"' in answer, answer
                acked.setdefault(str(attempt.pk), []).append(answer)
    total = FRAMES * len(attempts)
    wait_until(lambda: len(api.calls) >= total, 60, "every frame delivered")
    assert len({call.headers["Idempotency-Key"] for call in api.calls}) == total

    clients = [server.client(decode_responses=True) for server in two_shards]

    def completed_on(connection: Any) -> int:
        return int(connection.hget(keys.totals(), "completed") or 0)

    try:
        for index, connection in enumerate(clients):
            # Each client's frames went through its own shard only: its index, its counts.
            indexed = set(connection.zrange(keys.clients_index(), 0, -1))
            assert indexed == set(by_shard[index])
            expected = FRAMES * len(by_shard[index])
            wait_until(
                partial(lambda c, n: completed_on(c) == n, connection, expected),
                30,
                f"shard {index} completed",
            )
            workers = connection.smembers("rq:workers:proctoring")
            assert len(workers) == 1, workers
    finally:
        for connection in clients:
            connection.close()

    # The figures, read in this process as the admin pages do, add both shards up.
    settings.REDIS_SHARDS = urls
    settings.REDIS_URL = urls[0]
    figures = stats.queue_figures()
    assert [shard["queued"] for shard in figures["shards"]] == [0, 0]
    assert figures["queued"] == figures["running"] == figures["failed"] == 0
    rows = stats.clients()
    assert {row["client"] for row in rows} == set(by_shard[0] + by_shard[1])
    wait_until(
        lambda: all(row["completed_today"] == FRAMES for row in stats.clients()), 30, "per-client counts"
    )
    assert sorted(row["shard"] for row in stats.workers()) == [0, 1]
    assert sum(minute["received"] for minute in stats.throughput()) == total
    completed = next(
        sample.value
        for family in collector.QueueCollector().collect()
        if family.name == "proctoring_frames"
        for sample in family.samples
        if sample.labels.get("outcome") == "completed"
    )
    assert completed == total
    # The proctor dashboard finds each client's live thumbnail (seq 1 is kept) on its shard.
    assert all(dashboard.latest_thumbnail(str(attempt.pk)) for attempt in attempts)
    assert all(row["backlog"] == 0 for row in rows)
    print(f"two shards: {len(by_shard[0])} + {len(by_shard[1])} clients, {total} frames acked and delivered")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_failed_jobs_pages_find_and_retry_a_job_on_another_shard(
    two_shards, api, start_worker, settings, client
):
    from rq.registry import FailedJobRegistry

    from proctoring.core.frames import parse_image
    from tests.support import Reply

    urls = [server.url for server in two_shards]
    settings.REDIS_SHARDS = urls
    settings.REDIS_URL = urls[0]
    client_id = next(f"camera-{i}" for i in range(100) if shards.index_of(f"camera-{i}") == 1)
    # An outage, failed at its one attempt: a frame the API refused keeps no image to retry.
    settings.PROCTORING_JOB_ATTEMPTS = 1
    api.script(Reply(503, {"error": "down"}))
    with shards.client_shard(client_id):
        job_id = enqueue.enqueue_frame(client_id, client_id, 1, parse_image(jpeg_bytes(), 1 << 20))
    with two_shards[1].client() as watch:
        start_worker(
            watch=watch,
            REDIS_URL="",
            REDIS_SHARDS=",".join(urls),
            REDIS_SHARD="1",
            PROCTORING_JOB_ATTEMPTS="1",
            # Its clients are no attempts: the answer is not stored, so delivery ends the job.
            PROCTORING_STORE_RESULTS="false",
        )

    def failed_on_shard_1() -> list[str]:
        with shards.using(urls[1]):
            return [str(i) for i in FailedJobRegistry(queue=policy.get_queue()).get_job_ids(cleanup=False)]

    wait_until(lambda: job_id in failed_on_shard_1(), 30, "the job failed on shard 1")
    staff = get_user_model().objects.create_superuser("ops")
    client.force_login(staff)
    first = client.get("/admin/proctoring/queue/failed/")
    assert first.status_code == 200 and job_id not in [row.job_id for row in first.context["rows"]]
    assert [(index, count) for index, count, _ in first.context["shard_links"]] == [(0, 0), (1, 1)]
    second = client.get("/admin/proctoring/queue/failed/?shard=1")
    assert [row.job_id for row in second.context["rows"]] == [job_id]
    by_client = client.get(f"/admin/proctoring/queue/failed/?client={client_id}")
    assert [row.job_id for row in by_client.context["rows"]] == [job_id]
    detail = client.get(f"/admin/proctoring/queue/jobs/{job_id}/")
    assert detail.status_code == 200 and b"ApiUnavailable" in detail.content
    assert client.get(f"/admin/proctoring/queue/jobs/{job_id}/frame").status_code == 200

    api.script(Reply(200, {"ok": True, "flags": []}))
    client.post("/admin/proctoring/queue/failed/action/", {"action": f"retry:{job_id}"})
    wait_until(
        lambda: (
            [call.headers["Idempotency-Key"] for call in api.calls].count(job_id) == 2
            and job_id not in failed_on_shard_1()
        ),
        30,
        "retried on its shard and delivered",
    )
