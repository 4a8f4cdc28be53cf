"""The job events WebSocket of the admin's queue overview, for queue operators
(`proctoring.view_queue`): joins the events group and passes each batch of events on, as it
comes."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from proctoring.core import events
from proctoring.core.access import StreamRefused, staff_refusal
from proctoring.core.protocol import CloseCode
from proctoring.results import audit, authorization


class JobEventsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Sends `{"type": "events", "events": [...]}` for every batch a worker publishes."""

    groups: list[str] = []  # joined only once the user is known to be a queue operator

    async def connect(self) -> None:
        refused = staff_refusal(self.scope)
        if refused is None and not await database_sync_to_async(authorization.can_view_queue)(
            self.scope["user"]
        ):
            refused = StreamRefused(CloseCode.FORBIDDEN, "the queue's view permission is needed")
            await database_sync_to_async(audit.record)(
                self.scope["user"], audit.Action.REFUSED, ("socket", "job events"), audit.Outcome.REFUSED
            )
        if refused is not None:
            # Accepted, then closed, so that a refused client sees why: a refused handshake
            # carries no code.
            await self.accept()
            await self.close(code=refused.close_code, reason=refused.reason)
            return
        # In the group before the accept, so that no batch published once it is open is missed.
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        self.groups = [events.GROUP]  # left on disconnect by Channels
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        pass  # this socket only speaks

    async def job_events(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "events", "events": message["events"]}))
