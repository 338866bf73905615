"""What one push means for Pipedrive: a pure plan, made from values only.

The service loads what it knows (tenant settings, the record linked in the push ledger, the mirror's record
with the same match key), asks `plan_push` for the fewest writes that make Pipedrive right, and carries
the plan out. The manual-push preview calls the same function, so a preview shows exactly what a push does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import FieldMode, TenantSettings
from sync_rules.diffs import Side, compute_changes, conflict_winner, is_empty
from sync_rules.duplicates import DuplicateAction
from sync_rules.field_modes import FieldModes
from sync_rules.mapping_resolution import object_switches, push_mappings
from sync_rules.mappings import FieldMapping, read_pipedrive_value
from sync_rules.match_keys import email_match_key, website_match_key
from sync_rules.matching import MatchInput, decide_match
from sync_rules.owners import owner_change_to_pipedrive
from sync_rules.required_fields import check_required_fields

UNCHANGED = "No changes"
DELETED_IN_CRM = "Deleted in CRM: auto-push does not re-create it"
OWNER_FIELD = "owner"


class PushAction(StrEnum):
    """What the pusher does in Pipedrive."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class PipedriveRecord:
    """A Pipedrive record as the pusher knows it (mirror or ledger): id, v2 record, deletion mark."""

    pipedrive_id: int
    record: Mapping[str, Any]
    deleted: bool = False
    merged_into_id: int | None = None
    answered_404: bool = False  # Pipedrive just said it does not have the record


@dataclass(frozen=True)
class LastPush:
    """The values the pusher last sent to the Pipedrive record `pipedrive_id` (a v2 write body, merged
    over the record's writes), whether or not Pipedrive still holds them."""

    pipedrive_id: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class PushInput:
    """Everything one push is decided from.

    `fields` is the ABM record by ABM field name; `linked` the record the push ledger links to the match
    key; `key_match` the mirror's live record with the match key. `extra_mappings` add fields only this
    push writes (the engagement score). Auto-push never re-creates a record deleted in Pipedrive.
    """

    object: SyncObject
    match_key: str | None
    fields: Mapping[str, Any]
    settings: TenantSettings | None
    linked: PipedriveRecord | None = None
    key_match: PipedriveRecord | None = None
    manual: bool = False
    users_by_email: Mapping[str, int] = field(default_factory=dict)
    extra_mappings: tuple[FieldMapping, ...] = ()
    abm_changed_at: datetime | None = None
    last_push: LastPush | None = None


@dataclass(frozen=True)
class PushPlan:
    """The call to make (`body` for a create or a PATCH of `pipedrive_id`) or why none is made."""

    action: PushAction
    pipedrive_id: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    fields_written: tuple[str, ...] = ()
    message: str | None = None

    @property
    def outcome(self) -> RecordOutcome:
        """The activity log's outcome when the plan is carried out as planned."""
        return {
            PushAction.CREATE: RecordOutcome.CREATED,
            PushAction.UPDATE: RecordOutcome.UPDATED,
            PushAction.UNCHANGED: RecordOutcome.UNCHANGED,
            PushAction.SKIP: RecordOutcome.SKIPPED,
            PushAction.FAIL: RecordOutcome.FAILED,
        }[self.action]


def plan_push(given: PushInput) -> PushPlan:
    """Decide create / update / skip / fail for one ABM record, following DESIGN.md section 5."""
    switches = object_switches(given.settings, given.object)
    linked = given.linked
    if linked is not None and linked.deleted:
        if not given.manual:
            return PushPlan(PushAction.SKIP, linked.pipedrive_id, message=DELETED_IN_CRM)
        linked = None
    key_match = given.key_match if given.key_match is not None and not given.key_match.deleted else None
    decision = decide_match(
        MatchInput(
            given.object,
            given.match_key,
            linked_id=linked.pipedrive_id if linked else None,
            key_match_id=key_match.pipedrive_id if key_match else None,
            may_create=switches.create_in_pipedrive,
            may_update=switches.update_in_pipedrive,
        )
    )
    mappings = push_mappings(given.settings, given.object) + given.extra_mappings
    if decision.action is DuplicateAction.CREATE:
        return _plan_create(given, mappings)
    target = linked if linked is not None else key_match
    if decision.action is DuplicateAction.SKIP or target is None:
        return PushPlan(PushAction.SKIP, _int_or_none(decision.target_id), message=decision.message)
    return _plan_update(given, mappings, target)


def _plan_create(given: PushInput, mappings: tuple[FieldMapping, ...]) -> PushPlan:
    changes = _changes(given, mappings, {})
    changes.update(_owner_changes(given, mappings, None))
    body = pipedrive_body(changes, mappings)
    check = check_required_fields(given.object, body)
    if not check.ok:
        return PushPlan(PushAction.FAIL, message=check.message)
    return PushPlan(PushAction.CREATE, body=body, fields_written=tuple(sorted(changes)))


def _plan_update(given: PushInput, mappings: tuple[FieldMapping, ...], target: PipedriveRecord) -> PushPlan:
    current = comparable_fields(target.record, mappings)
    _align_keys(given, current)
    changes = _changes(given, mappings, current)
    for name in _lost_conflicts(given, mappings, current, target, changes):
        del changes[name]
    changes.update(_owner_changes(given, mappings, target.record.get("owner_id")))
    if not changes:
        return PushPlan(PushAction.UNCHANGED, target.pipedrive_id, message=UNCHANGED)
    body = pipedrive_body(changes, mappings)
    return PushPlan(PushAction.UPDATE, target.pipedrive_id, body, tuple(sorted(changes)))


def _changes(
    given: PushInput, mappings: tuple[FieldMapping, ...], current: Mapping[str, Any]
) -> dict[str, Any]:
    modes = {m.abm_field: m.modes.to_pipedrive for m in mappings if m.abm_field != OWNER_FIELD}
    return compute_changes(given.fields, current, modes)


def _lost_conflicts(
    given: PushInput,
    mappings: tuple[FieldMapping, ...],
    current: Mapping[str, Any],
    target: PipedriveRecord,
    changes: Mapping[str, Any],
) -> list[str]:
    """Fields both directions overwrite where Pipedrive changed last (ties go to Pipedrive, DESIGN §5).

    Pipedrive changed last when its record is newer than the ABM side's change, or when the ABM value is
    still the one the pusher last sent to this record: the ABM value has not changed since that push, and
    Pipedrive holding another value means someone changed it there after the push, whatever time the ABM
    signal carries (a company revealed again repeats its name; that is no new change of the name).
    Only for pushes that carry the ABM side's change time; a person's manual push is a change made now.
    """
    if given.abm_changed_at is None:
        return []
    two_way = {
        m.abm_field
        for m in mappings
        if m.modes.to_pipedrive is FieldMode.OVERWRITE and m.modes.to_abm is FieldMode.OVERWRITE
    }
    contested = [name for name in changes if name in two_way and not is_empty(current.get(name))]
    pipedrive_at = _parse_time(target.record.get("update_time"))
    if conflict_winner(pipedrive_at, given.abm_changed_at) is Side.PIPEDRIVE:
        return contested
    unchanged = unchanged_since_pushed(given, mappings, target.pipedrive_id)
    return [name for name in contested if name in unchanged]


def unchanged_since_pushed(
    given: PushInput, mappings: tuple[FieldMapping, ...], pipedrive_id: int
) -> set[str]:
    """The ABM fields whose value is the one the pusher last sent to the record `pipedrive_id` (a website
    by its domain): the ABM side did not change them since."""
    last = given.last_push
    if last is None or last.pipedrive_id != pipedrive_id:
        return set()
    pushed = {
        m.abm_field: abm_value(m.pipedrive_key, read_pipedrive_value(last.body, m))
        for m in mappings
        if m.abm_field != OWNER_FIELD
    }
    _align_keys(given, pushed)
    return {name for name, value in pushed.items() if not is_empty(value) and given.fields.get(name) == value}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _owner_changes(
    given: PushInput, mappings: tuple[FieldMapping, ...], current_owner: object
) -> dict[str, Any]:
    owner = next((m for m in mappings if m.abm_field == OWNER_FIELD), None)
    email = owner_email_of(given.fields)
    if owner is None or email is None:
        return {}
    owner_id = current_owner if isinstance(current_owner, int) else None
    change = owner_change_to_pipedrive(email, owner_id, owner.modes.to_pipedrive, given.users_by_email)
    return {OWNER_FIELD: change["owner_id"]} if change else {}


def owner_email_of(fields: Mapping[str, Any]) -> str | None:
    """The ABM record's owner as an email, the only form matched to a Pipedrive user; None otherwise (an
    owner imported from Pipedrive is its user id: Pipedrive's own value, nothing to look up)."""
    email = fields.get(OWNER_FIELD)
    return email if isinstance(email, str) and email.strip() else None


def _align_keys(given: PushInput, current: dict[str, Any]) -> None:
    """Values that normalize to the same match key are the same value: a website by its domain
    (`https://www.acme.com/` = `acme.com`), an email whatever its case (`Nora@Delta-rv.com` =
    `nora@delta-rv.com`); only another address or domain is a change to write."""
    for name, key_of in (("website", website_match_key), ("email", email_match_key)):
        ours, theirs = given.fields.get(name), current.get(name)
        if not isinstance(ours, str) or not isinstance(theirs, str):
            continue
        key = key_of(ours)
        if key is not None and key == key_of(theirs):
            current[name] = ours


def comparable_fields(record: Mapping[str, Any], mappings: tuple[FieldMapping, ...]) -> dict[str, Any]:
    """A Pipedrive v2 record's mapped values in ABM form: primary email/phone, address text, plain values."""
    return {m.abm_field: abm_value(m.pipedrive_key, read_pipedrive_value(record, m)) for m in mappings}


def abm_value(pipedrive_key: str, raw: object) -> object:
    """One Pipedrive v2 value in ABM form."""
    if pipedrive_key in {"emails", "phones"} and isinstance(raw, list):
        entries = [e for e in raw if isinstance(e, Mapping) and not is_empty(e.get("value"))]
        primary = sorted(entries, key=lambda e: not e.get("primary"))
        return primary[0]["value"] if primary else None
    if pipedrive_key == "address" and isinstance(raw, Mapping):
        return raw.get("value") or raw.get("formatted_address")
    return raw


def pipedrive_value(pipedrive_key: str, value: object) -> object:
    """One ABM value in Pipedrive v2 write form (the inverse of `abm_value`)."""
    if pipedrive_key in {"emails", "phones"} and isinstance(value, str):
        return [{"value": value, "primary": True, "label": "work"}]
    if pipedrive_key == "address" and isinstance(value, str):
        return {"value": value}
    return value


def pipedrive_body(changes: Mapping[str, Any], mappings: tuple[FieldMapping, ...]) -> dict[str, Any]:
    """Changes keyed by ABM field name as a Pipedrive v2 write body (custom fields by field code)."""
    body: dict[str, Any] = {}
    for m in mappings:
        if m.abm_field not in changes:
            continue
        value = pipedrive_value(m.pipedrive_key, changes[m.abm_field])
        if m.custom:
            body.setdefault("custom_fields", {})[m.pipedrive_key] = value
        else:
            body[m.pipedrive_key] = value
    return body


def overwrite_mapping(abm_field: str, field_code: str) -> FieldMapping:
    """A custom field the pusher always keeps current (the engagement score)."""
    return FieldMapping(abm_field, field_code, FieldModes(to_pipedrive=FieldMode.OVERWRITE), custom=True)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None
