"""The stock baseline for the gateway bench: a minimal Channels consumer that only LPUSHes each
frame with an asyncio Redis client and acks it (no validation, no auth, no job). Serve it with
`daphne bench.minimal_asgi:application`; it answers on the project's WebSocket paths. It runs the
project's loop-lag probe (`proctoring.gateway.loop_lag`) and writes its histogram to the same
Redis, so the bench reads both gateways' loop lag the same way."""

from __future__ import annotations

import asyncio
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctoring_site.settings")
django.setup()

import redis.asyncio  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from proctoring.gateway import loop_lag  # noqa: E402
from proctoring.queue import metrics  # noqa: E402

QUEUE_KEY = "bench:minimal"


async def _write_metrics(client: redis.asyncio.Redis) -> None:
    while True:
        await asyncio.sleep(metrics.FLUSH_EVERY)
        await metrics.recorder.aflush(client)


class MinimalConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    redis: redis.asyncio.Redis | None = None
    writer: asyncio.Task[None] | None = None
    seq = 0

    async def connect(self) -> None:
        if MinimalConsumer.redis is None:
            MinimalConsumer.redis = redis.asyncio.Redis.from_url(settings.REDIS_URL, max_connections=256)
            MinimalConsumer.writer = asyncio.create_task(_write_metrics(MinimalConsumer.redis))
        loop_lag.start()
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.seq += 1
        assert MinimalConsumer.redis is not None
        await MinimalConsumer.redis.lpush(QUEUE_KEY, bytes_data or b"")
        await self.send(text_data=json.dumps({"type": "ack", "seq": self.seq, "job_id": ""}))


application = ProtocolTypeRouter(
    {"websocket": URLRouter([re_path(r"^ws/proctoring/(?P<attempt_id>[^/]+)/$", MinimalConsumer.as_asgi())])}
)
