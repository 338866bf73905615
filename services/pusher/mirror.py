"""The pusher's mirror of the tenant's Pipedrive records, so matching needs no search call.

Fed by source changes (version-guarded by Pipedrive's `update_time`; deletes and merges are marked) and by
the records Pipedrive answers to the pusher's own writes, so the mirror is current before the echo comes.
Its table is `pusher.mirror_store`'s; this module holds the rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from pusher.planning import PipedriveRecord
from pusher.ports import Mirror
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from sync_rules.mapping_resolution import record_match_key

MAX_MERGE_HOPS = 5


def mirror_match_key(
    obj: SyncObject, record: Mapping[str, Any], settings: TenantSettings | None
) -> str | None:
    """The key a record is mirrored under: its match key (None for deals: the mirror keys none)."""
    return None if obj is SyncObject.DEAL else record_match_key(obj, record, settings)


def org_id_of(record: Mapping[str, Any]) -> int | None:
    """The organization a record belongs to, as the mirror indexes it (deals' open deals lookup)."""
    org_id = record.get("org_id")
    return org_id if isinstance(org_id, int) else None


def rounds_by_key(keys: Sequence[Hashable]) -> list[list[int]]:
    """The positions of a batch's changes in rounds where no key appears twice (a statement may change a
    row once): each key's first change in the first round, its second in the second, and so on, so the
    rounds applied in turn change each row in the batch's order."""
    if len(set(keys)) == len(keys):
        return [list(range(len(keys)))] if keys else []  # no key twice (an import's batch): one round
    seen: dict[Hashable, int] = {}
    rounds: list[list[int]] = []
    for position, key in enumerate(keys):
        round_number = seen.get(key, 0)
        seen[key] = round_number + 1
        if round_number == len(rounds):
            rounds.append([])
        rounds[round_number].append(position)
    return rounds


async def follow_merges(
    mirror: Mirror, tenant: str, obj: SyncObject, pipedrive_id: int
) -> PipedriveRecord | None:
    """The mirrored record, or the survivor it was merged into (a merge is never re-created)."""
    record = await mirror.by_id(tenant, obj, pipedrive_id)
    for _ in range(MAX_MERGE_HOPS):
        if record is None or record.merged_into_id is None:
            break
        record = await mirror.by_id(tenant, obj, record.merged_into_id)
    return record
