"""The proctor dashboard's live socket: `/ws/proctor/exams/<slug>/`, for the exam's proctors
(and superusers); any other account, and an exam that does not exist, get the same refusal.

It joins the job events group, keeps the events of the exam's attempts, passes them on (the
page counts frames per second from them), and at most four times a second sends the fresh rows
(`dashboard.rows`) of the attempts they touched: counts, connection state, incidents and the
thumbnail's version, the attempt's status and time left; an attempt that ended is
named in `gone` and leaves the grid. Nothing polls: a row is re-read only because an event named it (a frame's
outcome, a camera's socket opening or closing, a proctor's review of one of its incidents, a
change of the attempt's state: `dashboard.ATTEMPT_CHANGED`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from exams.models import Attempt, Exam
from proctoring.core import events
from proctoring.core.access import staff_refusal
from proctoring.core.protocol import CloseCode
from proctoring.live import dashboard
from proctoring.results import audit, authorization

FLUSH_EVERY = 0.25  # seconds: rows touched by events are sent at most this often
_FOREIGN_MAX = 10_000  # clients known not to be this exam's, remembered to skip their events


class DashboardConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    groups: list[str] = []
    exam: Exam | None = None

    async def connect(self) -> None:
        await self.accept()  # first, so that a refused client sees why
        refused = staff_refusal(self.scope)
        if refused is not None:
            await self.close(code=refused.close_code, reason=refused.reason)
            return
        slug = str(self.scope["url_route"]["kwargs"]["slug"])
        self.exam = await database_sync_to_async(authorization.exam_of)(self.scope["user"], slug)
        if self.exam is None:
            await database_sync_to_async(audit.record)(
                self.scope["user"], audit.Action.REFUSED, ("exam", slug), audit.Outcome.REFUSED, socket=True
            )
            await self.close(code=CloseCode.FORBIDDEN, reason="no such exam among yours")
            return
        self.clients: set[str] = set(await database_sync_to_async(self._attempt_ids)())
        self.foreign: set[str] = set()
        self.touched: set[str] = set()
        self.flushing: asyncio.Task[None] | None = None
        await self.channel_layer.group_add(events.GROUP, self.channel_name)
        self.groups = [events.GROUP]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        pass  # this socket only speaks

    async def job_events(self, message: dict[str, Any]) -> None:
        batch = message["events"]
        unknown = {item["client_id"] for item in batch} - self.clients - self.foreign
        if unknown:
            mine = set(await database_sync_to_async(self._attempt_ids)(unknown))
            self.clients |= mine
            if len(self.foreign) > _FOREIGN_MAX:
                self.foreign.clear()
            self.foreign |= unknown - mine
        relevant = [item for item in batch if item["client_id"] in self.clients]
        if not relevant:
            return
        await self.send(text_data=json.dumps({"type": "events", "events": relevant}))
        self.touched |= {item["client_id"] for item in relevant}
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())

    async def disconnect(self, code: int) -> None:
        if self.flushing is not None:
            self.flushing.cancel()

    async def _flush(self) -> None:
        await asyncio.sleep(FLUSH_EVERY)
        touched, self.touched = self.touched, set()
        rows = await database_sync_to_async(self._rows)(touched)
        # Touched but no row: the attempt ended (or is gone), and leaves the grid.
        gone = sorted(touched - {row["attempt_id"] for row in rows})
        self.clients -= set(gone)
        await self.send(text_data=json.dumps({"type": "rows", "rows": rows, "gone": gone}))

    def _attempt_ids(self, among: set[str] | None = None) -> list[str]:
        attempts = Attempt.objects.filter(exam=self.exam, ended_at__isnull=True)
        if among is not None:
            attempts = attempts.filter(pk__in=[value for value in among if _is_uuid(value)])
        return [str(pk) for pk in attempts.values_list("pk", flat=True)]

    def _rows(self, attempt_ids: set[str]) -> list[dict[str, Any]]:
        assert self.exam is not None
        return dashboard.rows(dashboard.in_progress(self.exam, attempt_ids))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
