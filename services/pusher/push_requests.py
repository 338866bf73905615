"""`psync.push.requested`: a person's confirmed push of one record (a record deleted in Pipedrive may be
created again); the manual-push preview asks the same planner without writing (`push_preview`)."""

from __future__ import annotations

from typing import Any

from pusher.event_pushes import EventPushes
from pusher.ports import PipedriveWriter, TenantSettingsSource
from pusher.push_scopes import manual_record_push, push_scope
from pusher.record_pusher import PushDone, RecordPusher
from schemas.envelope import CloudEvent
from stream_runner.messages import Handled


class PushRequests:
    """The manual-push handler."""

    def __init__(self, settings: TenantSettingsSource, pushes: EventPushes, pusher: RecordPusher) -> None:
        self._settings = settings
        self._pushes = pushes
        self._pusher = pusher

    async def push_requested(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """Push the requested record and count it in its batch's run."""
        settings = await self._settings.get(event.tenantid)
        job = manual_record_push(event.data, settings)

        async def work(writes: PipedriveWriter) -> list[PushDone]:
            return [await self._pusher.push(event.tenantid, job, settings, writes, manual=True)]

        return await self._pushes.run(event, topic, push_scope(event, settings), settings, work, redriving)
