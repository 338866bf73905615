"""The pusher's handlers by event type, one module per message family.

Source changes feed the mirror (`source_changes`). ABM signals, when auto-push is on (`abm_signal_pushes`),
and manual push requests (`push_requests`) become record pushes, each run once per event id under the
record's lock with its results committed with the event's inbox claim (`event_pushes`). A push the
tenant's budget does not allow now is parked and re-driven later (`parking`). Settings feed the replica.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pusher.abm_signal_pushes import AbmSignalPushes
from pusher.event_pushes import EventPushes
from pusher.parking import Origin, ParkedPushes, PushPaused
from pusher.ports import PusherStore, PushRuns, TenantSettingsSource
from pusher.push_requests import PushRequests
from pusher.push_scopes import push_scope
from pusher.record_pusher import PushDone, RecordPusher
from pusher.source_changes import SourceChanges
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome
from schemas.events.settings import TenantSettings
from settings_replica.replica import settings_updated_batch
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from stream_runner.processor import BatchHandler, Handler

PushHandler = Callable[[CloudEvent[Any], str, bool], Awaitable[Handled]]
"""A push: the event, the topic it came from, and whether the re-driver runs it."""


class PusherHandlers:
    """The pusher's service layer."""

    def __init__(
        self,
        store: PusherStore,
        settings: TenantSettingsSource,
        pushes: EventPushes,
        pusher: RecordPusher,
        signals: AbmSignalPushes,
        parked: ParkedPushes,
    ) -> None:
        self.store = store
        self._settings = settings
        self._pushes = pushes
        self.pusher = pusher
        self.parked = parked
        self._source_changes = SourceChanges(store, settings)
        requests = PushRequests(settings, pushes, pusher)
        self._push_handlers: Mapping[str, PushHandler] = {
            "abm.company.revealed": signals.company_revealed,
            "abm.contact.enriched": signals.contact_enriched,
            "abm.score.changed": signals.score_changed,
            "psync.push.requested": requests.push_requested,
        }

    async def settings_of(self, tenant: str) -> TenantSettings | None:
        """The tenant's current settings (None before the connector published any)."""
        return await self._settings.get(tenant)

    async def users_by_email(self, tenant: str) -> dict[str, int]:
        """The tenant's active Pipedrive users by lowercased email (one call, 20 tokens)."""
        return await self._pushes.writes(tenant).users_by_email()

    def batch_handlers(self) -> Mapping[str, BatchHandler]:
        """The event types applied in batches: source changes, into the mirror; settings, into the replica
        (the skeleton reads them first with it)."""
        return {
            "psync.settings.updated": settings_updated_batch(self._settings),
            "psync.source.changed": self._source_changes.source_changed_batch,
        }

    def by_event_type(self) -> Mapping[str, Handler]:
        """The handlers of the event types applied one at a time, the pushes (each parks itself while the
        tenant's budget is closed); those in `batch_handlers` are applied with those."""
        return {event_type: self._parking(event_type) for event_type in self._push_handlers}

    async def redrive(self, event: CloudEvent[Any], topic: str) -> Handled:
        """Run a parked push again (raises `PushPaused` when the budget is still closed)."""
        return await self._push_handlers[event.type](event, topic, True)

    def _parking(self, event_type: str) -> Handler:
        async def handle(event: CloudEvent[Any], message: IncomingMessage) -> Handled:
            try:
                return await self._push_handlers[event_type](event, message.topic, False)
            except PushPaused as pause:
                await self.parked.park(event, Origin.of(message), pause)
                return Handled()

        return handle

    async def give_up(self, runs: PushRuns, event: CloudEvent[Any], reason: str) -> list[OutgoingMessage]:
        """The failed result of a parked push that gave up, counted in its run (`runs`: the transaction
        that removes it). The event is not claimed: re-driving its dead letter applies it."""
        scope = push_scope(event, await self._settings.get(event.tenantid))
        done = PushDone(scope.object, scope.match_key, RecordOutcome.FAILED, message=reason)
        return await self._pushes.results(runs, event, scope, [done], 0, step="gave-up")
