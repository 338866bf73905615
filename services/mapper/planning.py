"""What one Pipedrive change means for the ABM store: a pure plan, made from values only.

The handler loads the situation (the stored link, the linked ABM record, the record the match key finds),
asks `plan_change` what to do, and applies the plan in the same transaction as the inbox claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from frozen_values import frozen_value
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import DirectionSwitches, FieldMode, TenantSettings
from schemas.events.source_changes import ChangeAction, SourceChange
from sync_rules.diffs import compute_changes, is_empty
from sync_rules.duplicates import DuplicateAction
from sync_rules.mapping_resolution import effective_mappings, object_switches, record_match_key
from sync_rules.mappings import FieldMapping, read_pipedrive_value
from sync_rules.matching import MatchInput, decide_match

DELETED_IN_CRM = "Deleted in CRM"
STALE_VERSION = "Older than the applied version"
UNCHANGED = "No changes"


class PlanKind(StrEnum):
    """What the store does."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    MARK_DELETED = "mark_deleted"
    MERGE = "merge"


@frozen_value
class StoredRecord:
    """An ABM record as stored: its id, its mapped fields by ABM name, its CRM deletion mark, its match key
    (when known: what the activity log names a deleted or merged record by)."""

    abm_id: str
    fields: Mapping[str, Any]
    deleted_in_crm: bool = False
    match_key: str | None = None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> StoredRecord:
        """The record of a store row (its `abm_id`, `fields` and `deleted_in_crm` columns)."""
        return cls(row["abm_id"], row["fields"], row["deleted_in_crm"])


@frozen_value
class StoredLink:
    """A link Pipedrive id -> ABM id, with the version it last applied."""

    abm_id: str
    source_update_time: datetime
    deleted_in_crm: bool = False

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> StoredLink:
        """The link of a store row (its `abm_id`, `source_update_time` and `deleted_in_crm` columns)."""
        return cls(row["abm_id"], row["source_update_time"], row["deleted_in_crm"])


@frozen_value
class Situation:
    """What the store knows about the changed record (`key_match_linked_to`: the Pipedrive id of another
    record the key's ABM record is linked to)."""

    link: StoredLink | None = None
    linked_record: StoredRecord | None = None
    key_match: StoredRecord | None = None
    key_match_linked_to: int | None = None


@frozen_value
class Plan:
    """The writes for one change and the activity-log outcome it reports."""

    kind: PlanKind
    outcome: RecordOutcome
    match_key: str | None = None
    abm_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    duplicate: bool = False


_FORMED_KEYS = frozenset({"emails", "phones", "address"})
"""The Pipedrive keys whose values `abm_value` changes the form of (every other value is kept as is)."""


def abm_value(pipedrive_key: str, raw: object) -> object:
    """A Pipedrive v2 value in the ABM store's form: primary email/phone, address text, plain values."""
    if pipedrive_key in {"emails", "phones"} and isinstance(raw, list):
        entries = [e for e in raw if isinstance(e, Mapping) and not is_empty(e.get("value"))]
        primary = sorted(entries, key=lambda e: not e.get("primary"))
        return primary[0]["value"] if primary else None
    if pipedrive_key == "address" and isinstance(raw, Mapping):
        return raw.get("value") or raw.get("formatted_address")
    return raw


def source_fields(record: Mapping[str, Any], mappings: tuple[FieldMapping, ...]) -> dict[str, Any]:
    """The record's mapped values by ABM field name, in the store's form."""
    return {m.abm_field: abm_value(m.pipedrive_key, read_pipedrive_value(record, m)) for m in mappings}


@frozen_value
class ObjectRules:
    """What planning reads of a tenant's settings for one object: its effective mappings, their modes
    into ABM by ABM field, its switches, and per mapping whether `abm_value` changes its value's form."""

    mappings: tuple[FieldMapping, ...]
    modes: dict[str, FieldMode]
    switches: DirectionSwitches
    formed: tuple[bool, ...]

    def source_fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """`source_fields(record, self.mappings)`, `abm_value` asked only of the values it may change."""
        values = {}
        for mapping, formed in zip(self.mappings, self.formed, strict=True):
            raw = read_pipedrive_value(record, mapping)
            values[mapping.abm_field] = abm_value(mapping.pipedrive_key, raw) if formed else raw
        return values


def object_rules(settings: TenantSettings | None, obj: SyncObject) -> ObjectRules:
    """The object's rules under these settings."""
    mappings = effective_mappings(settings, obj)
    return ObjectRules(
        mappings,
        {m.abm_field: m.modes.to_abm for m in mappings},
        object_switches(settings, obj),
        tuple(m.pipedrive_key in _FORMED_KEYS for m in mappings),
    )


@frozen_value
class TenantRules:
    """What planning reads of a tenant's settings: the settings (match keys read their domain rules) and
    each object's rules, worked out once for a batch of changes rather than once per change."""

    settings: TenantSettings | None
    objects: Mapping[SyncObject, ObjectRules]


def tenant_rules(
    settings: TenantSettings | None, objects: Iterable[SyncObject] = tuple(SyncObject)
) -> TenantRules:
    """The tenant's rules under these settings for these objects (every object's unless told)."""
    if settings is None:
        return _DEFAULT_RULES
    return TenantRules(settings, {obj: object_rules(settings, obj) for obj in objects})


_DEFAULT_RULES = TenantRules(None, {obj: object_rules(None, obj) for obj in SyncObject})
"""The rules of a tenant that published no settings (the default mappings and switches)."""


def match_key_of(change: SourceChange, rules: TenantRules) -> str | None:
    """The change's match key under the tenant's domain settings (None when it has none)."""
    if change.record is None:
        return None
    return record_match_key(change.object, change.record, rules.settings)


def plan_change(
    change: SourceChange,
    rules: TenantRules,
    situation: Situation,
    new_abm_id: str,
    match_key: str | None,
) -> Plan:
    """Decide what one source change does to the ABM store (DESIGN.md section 5)."""
    if situation.link is not None and change.update_time < situation.link.source_update_time:
        # A newer version is applied already: the record is up to date.
        return Plan(
            PlanKind.SKIP, RecordOutcome.UNCHANGED, message=STALE_VERSION, abm_id=situation.link.abm_id
        )
    if change.action is ChangeAction.DELETED:
        return _plan_delete(situation)
    if change.action is ChangeAction.MERGED:
        return _plan_merge(situation)
    return _plan_upsert(change, rules.objects[change.object], situation, new_abm_id, match_key)


def _plan_delete(situation: Situation) -> Plan:
    if situation.link is None:
        return Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, message="Not linked to an ABM record")
    return Plan(
        PlanKind.MARK_DELETED, RecordOutcome.UPDATED, _linked_key(situation), situation.link.abm_id,
        message=DELETED_IN_CRM,
    )  # fmt: skip


def _plan_merge(situation: Situation) -> Plan:
    if situation.link is None:
        return Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, message="Merged record was not linked")
    return Plan(
        PlanKind.MERGE, RecordOutcome.UPDATED, _linked_key(situation), situation.link.abm_id,
        message="Merged in CRM",
    )  # fmt: skip


def _linked_key(situation: Situation) -> str | None:
    """The match key of the linked record: a deletion or a merge carries no record of its own to key."""
    return situation.linked_record.match_key if situation.linked_record is not None else None


def _plan_upsert(
    change: SourceChange,
    rules: ObjectRules,
    situation: Situation,
    new_abm_id: str,
    match_key: str | None,
) -> Plan:
    assert change.record is not None
    switches = rules.switches
    linked = situation.linked_record if situation.link is not None else None
    decision = decide_match(
        MatchInput(
            sync_object=change.object,
            match_key=match_key,
            linked_id=linked.abm_id if linked is not None else None,
            key_match_id=situation.key_match.abm_id if situation.key_match is not None else None,
            may_create=switches.create_in_abm,
            may_update=switches.update_in_abm,
            duplicate_handling=change.import_context.duplicate_handling if change.import_context else None,
            key_match_linked_to=situation.key_match_linked_to,
        )
    )
    values = rules.source_fields(change.record)
    modes = rules.modes
    if decision.action is DuplicateAction.SKIP:
        target_id = str(decision.target_id) if decision.target_id is not None else None
        return Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, match_key, target_id, message=decision.message)
    if decision.action is DuplicateAction.CREATE:
        fields = compute_changes(values, {}, modes)
        duplicate = situation.key_match is not None
        return Plan(
            PlanKind.CREATE, RecordOutcome.CREATED, match_key, new_abm_id, fields, duplicate=duplicate
        )
    target = linked if linked is not None else situation.key_match
    assert target is not None
    changes = compute_changes(values, target.fields, modes)
    if not changes and situation.link is not None and not target.deleted_in_crm:
        return Plan(PlanKind.UPDATE, RecordOutcome.UNCHANGED, match_key, target.abm_id, {}, UNCHANGED)
    return Plan(PlanKind.UPDATE, RecordOutcome.UPDATED, match_key, target.abm_id, changes)
