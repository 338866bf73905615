"""`psync.source.changed`: the mirror follows Pipedrive, and an echo of the pusher's own write is marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pusher.mirror import mirror_match_key
from pusher.ports import PusherStore, PusherUnit, RecordRef, TenantSettingsSource
from pusher.push_ledger import LedgerEntry, is_echo_of, still_held
from schemas.envelope import CloudEvent
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import ChangeAction, SourceChange
from stream_runner.messages import APPLIED, DUPLICATE, Handled, IncomingMessage

Item = tuple[CloudEvent[Any], IncomingMessage]


class SourceChanges:
    """Mirrors Pipedrive record versions."""

    def __init__(self, store: PusherStore, settings: TenantSettingsSource) -> None:
        self._store = store
        self._settings = settings

    async def source_changed_batch(self, items: Sequence[Item]) -> list[Handled]:
        """Mirror consecutive record versions in one transaction, as one by one would (the ledger read
        once for all, the mirror written per round of distinct records); one result per change."""
        settings: dict[str, TenantSettings | None] = {}
        changes: list[tuple[str, SourceChange]] = []
        keys: list[str | None] = []
        for event, _ in items:
            tenant, change = event.tenantid, event.data
            if tenant not in settings:
                settings[tenant] = await self._settings.get(tenant)
            changes.append((tenant, change))
            keys.append(mirrored_key(change, settings[tenant]))
        async with self._store.unit() as unit:
            echoes = await recognize_echoes(unit, changes)
            kept = await unit.mirror.apply_changes(
                [(t, c, key, echo) for (t, c), key, echo in zip(changes, keys, echoes, strict=True)]
            )
        return [APPLIED if one else DUPLICATE for one in kept]


def mirrored_key(change: SourceChange, settings: TenantSettings | None) -> str | None:
    """The match key a change's record is mirrored under (None for a delete or a merge)."""
    if change.action is ChangeAction.UPSERTED and change.record is not None:
        return mirror_match_key(change.object, change.record, settings)
    return None


async def recognize_echoes(unit: PusherUnit, changes: Sequence[tuple[str, SourceChange]]) -> list[bool]:
    """Whether each change is the echo of the pusher's last write of its record; a newer change by someone
    else forgets the written values it replaced (for the later changes of the batch too). The ledger is
    read once for all."""
    wanted: list[RecordRef] = [(t, c.object, c.pipedrive_id) for t, c in changes if c.record is not None]
    entries: dict[RecordRef, LedgerEntry] = await unit.ledger.entries_by_pipedrive_ids(wanted)
    if not entries:
        return [False] * len(changes)  # the ledger holds none of these records: nothing is an echo
    echoes = []
    for tenant, change in changes:
        ref = (tenant, change.object, change.pipedrive_id)
        entry = entries.get(ref)
        if change.record is None or entry is None:
            echoes.append(False)
            continue
        if is_echo_of(entry, change.record, change.update_time):
            echoes.append(True)
            continue
        held = still_held(entry, change.record, change.update_time)
        if held is not None:
            await unit.ledger.keep_held(tenant, change.object, entry.match_key, held)
            entries[ref] = replace(entry, written=held)
        echoes.append(False)
    return echoes
