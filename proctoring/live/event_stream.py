"""The job events WebSocket for staff pages (the admin queue overview; later the proctor
dashboard): joins the events group and passes each batch of events on, as it comes."""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from proctoring.core import events
from proctoring.core.access import staff_refusal


class JobEventsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Sends `{"type": "events", "events": [...]}` for every batch a worker publishes."""

    groups: list[str] = []  # joined only once the user is known to be staff

    async def connect(self) -> None:
        # Accept first so that a refused client sees why: a refused handshake carries no code.
        await self.accept()
        refused = staff_refusal(self.scope)
        if refused is not None:
            await self.close(code=refused.close_code, reason=refused.reason)
            return
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        self.groups = [events.GROUP]  # left on disconnect by Channels

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        pass  # this socket only speaks

    async def job_events(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "events", "events": message["events"]}))
