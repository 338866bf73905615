"""`psync.source.changed`: the mirror follows Pipedrive, and an echo of the pusher's own write is marked."""

from __future__ import annotations

from typing import Any

from pusher.mirror import mirror_match_key
from pusher.ports import PusherStore, PusherUnit, TenantSettingsSource
from pusher.push_ledger import is_echo_of, still_held
from schemas.envelope import CloudEvent
from schemas.events.source_changes import ChangeAction, SourceChange
from stream_runner.messages import Handled, IncomingMessage


class SourceChanges:
    """Mirrors Pipedrive record versions."""

    def __init__(self, store: PusherStore, settings: TenantSettingsSource) -> None:
        self._store = store
        self._settings = settings

    async def source_changed(self, event: CloudEvent[Any], _message: IncomingMessage) -> Handled:
        """Mirror one Pipedrive record version; an echo of the pusher's own write is marked as such."""
        change: SourceChange = event.data
        tenant = event.tenantid
        match_key = None
        if change.action is ChangeAction.UPSERTED and change.record is not None:
            match_key = mirror_match_key(change.object, change.record, await self._settings.get(tenant))
        async with self._store.unit() as unit:
            echo = await recognize_echo(unit, tenant, change)
            kept = await unit.mirror.apply_change(tenant, change, match_key, echo)
        return Handled(duplicate=not kept)


async def recognize_echo(unit: PusherUnit, tenant: str, change: SourceChange) -> bool:
    """Whether the change is the echo of the pusher's last write; if it is a newer change by someone else,
    the written values it replaced are forgotten."""
    if change.record is None:
        return False
    entry = await unit.ledger.entry_by_pipedrive_id(tenant, change.object, change.pipedrive_id)
    if entry is None:
        return False
    if is_echo_of(entry, change.record, change.update_time):
        return True
    held = still_held(entry, change.record, change.update_time)
    if held is not None:
        await unit.ledger.keep_held(tenant, change.object, entry.match_key, held)
    return False
