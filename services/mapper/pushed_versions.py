"""What a push's written version means for the ABM store: a pure rule, made from values only.

When auto-push writes an ABM signal's values over Pipedrive's (Overwrite), the ABM store still holds what
it had (signals only fill empty fields). Pipedrive's echo of that write would bring the values back into
the store one round trip later. The pusher's result carries the version its write produced; the mapper
takes those values at once, under the rules the echo would be applied by (the tenant's mappings and
modes toward the ABM platform), so the echo, when it comes, finds them there and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mapper.planning import StoredLink, StoredRecord, source_fields
from schemas.events.common import SyncObject
from schemas.events.push import WrittenVersion
from schemas.events.settings import TenantSettings
from sync_rules.diffs import compute_changes
from sync_rules.mapping_resolution import effective_mappings, object_switches
from sync_rules.mappings import FieldMapping


@dataclass(frozen=True)
class Adoption:
    """The fields to write over the ABM record, and the Pipedrive version its link has applied since."""

    changes: dict[str, Any]
    version: datetime


def adopt_written_version(
    obj: SyncObject,
    written: WrittenVersion,
    settings: TenantSettings | None,
    link: StoredLink | None,
    record: StoredRecord,
) -> Adoption | None:
    """The changes a push's written version makes to the ABM record it was pushed from (what its echo
    would make), or None when the store has applied that version or a later one already, the tenant
    does not update the ABM platform from Pipedrive, or the push wrote no field the store maps."""
    if link is not None and link.source_update_time >= written.update_time:
        return None
    if not object_switches(settings, obj).update_in_abm:
        return None
    mappings = tuple(m for m in effective_mappings(settings, obj) if _was_written(m, written.values))
    if not mappings:
        # Nothing the store maps was written (an engagement score): an older version still pending
        # tells the store nothing this one overrides, so the link keeps the version it has.
        return None
    values = source_fields(written.values, mappings)
    modes = {m.abm_field: m.modes.to_abm for m in mappings}
    return Adoption(compute_changes(values, record.fields, modes), written.update_time)


def _was_written(mapping: FieldMapping, values: dict[str, Any]) -> bool:
    if mapping.custom:
        return mapping.pipedrive_key in (values.get("custom_fields") or {})
    return mapping.pipedrive_key in values
