"""Field mappings: ABM field <-> Pipedrive v2 field key, with a mode per direction.

The defaults follow DESIGN.md's seed tables. Defaults favour Pipedrive as the sales team's record:
toward the ABM platform fields overwrite; toward Pipedrive they only fill gaps, the owner included, and
system or pipeline fields (add time, deal fields) are not written at all. Custom fields are configured by
their label and resolved to the account's 40-hex field codes with :func:`resolve_custom_mappings`.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.events.settings import FieldMode
from sync_rules.errors import SyncRuleError
from sync_rules.field_modes import FieldModes
from sync_rules.field_types import ABM_FIELD_KINDS
from sync_rules.objects import SyncObject

_CUSTOM_FIELD_CODE = re.compile(r"^[0-9a-f]{40}$")


class CustomFieldResolutionError(SyncRuleError):
    """A custom field label names no field, or several, in the Pipedrive account."""


@dataclass(frozen=True)
class FieldMapping:
    """One mapped field. ``custom`` fields live under ``custom_fields`` keyed by their field code."""

    abm_field: str
    pipedrive_key: str
    modes: FieldModes
    custom: bool = False


@dataclass(frozen=True)
class CustomFieldMapping:
    """A tenant's custom field mapping before resolution: the Pipedrive field is named by its label."""

    abm_field: str
    label: str
    modes: FieldModes


@dataclass(frozen=True)
class FieldDefinition:
    """A Pipedrive field definition, as the v2 fields API returns it (``field_code``, ``field_name``,
    ``is_custom_field``, ``field_type``, ``options`` as (id, label) pairs), and whether an update can
    write it."""

    code: str
    label: str
    is_custom: bool = True
    field_type: str = "varchar"
    writable: bool = True
    options: tuple[tuple[int | str, str], ...] = ()


_FILL_IN, _OVERWRITE_IN = FieldMode.FILL, FieldMode.OVERWRITE
_TWO_WAY = FieldModes(to_pipedrive=_FILL_IN, to_abm=_OVERWRITE_IN)
_INTO_ABM = FieldModes(to_pipedrive=FieldMode.DONT_SYNC, to_abm=_OVERWRITE_IN)

DEFAULT_MAPPINGS: Mapping[SyncObject, tuple[FieldMapping, ...]] = {
    SyncObject.ORGANIZATION: (
        FieldMapping("name", "name", _TWO_WAY),
        FieldMapping("website", "website", _TWO_WAY),
        FieldMapping("address", "address", _TWO_WAY),
        FieldMapping("owner", "owner_id", _TWO_WAY),
        FieldMapping("add_time", "add_time", _INTO_ABM),
    ),
    SyncObject.PERSON: (
        FieldMapping("name", "name", _TWO_WAY),
        FieldMapping("email", "emails", _TWO_WAY),
        FieldMapping("phone", "phones", _TWO_WAY),
        FieldMapping("organization", "org_id", _TWO_WAY),
        FieldMapping("owner", "owner_id", _TWO_WAY),
    ),
    SyncObject.DEAL: (
        FieldMapping("title", "title", _INTO_ABM),
        FieldMapping("value", "value", _INTO_ABM),
        FieldMapping("currency", "currency", _INTO_ABM),
        FieldMapping("stage", "stage_id", _INTO_ABM),
        FieldMapping("expected_close_date", "expected_close_date", _INTO_ABM),
        FieldMapping("status", "status", _INTO_ABM),
        # Associations: the opportunity's account and contact, by Pipedrive id (resolved through links).
        FieldMapping("organization", "org_id", _INTO_ABM),
        FieldMapping("person", "person_id", _INTO_ABM),
    ),
}


ABM_FIELDS: Mapping[SyncObject, frozenset[str]] = {
    obj: frozenset(kinds) for obj, kinds in ABM_FIELD_KINDS.items()
}
"""The fields the ABM platform keeps on accounts, contacts and opportunities: what a mapping may name
(`sync_rules.field_types` says what each holds)."""


def default_mappings(sync_object: SyncObject) -> tuple[FieldMapping, ...]:
    """Return the seed mappings of an object."""
    return DEFAULT_MAPPINGS[sync_object]


def parse_field_definitions(data: Iterable[Mapping[str, Any]]) -> list[FieldDefinition]:
    """Return field definitions from the v2 fields API's ``data`` items."""
    return [
        FieldDefinition(
            code=str(item["field_code"]),
            label=str(item["field_name"]),
            is_custom=bool(item.get("is_custom_field")),
            field_type=str(item.get("field_type", "varchar")),
        )
        for item in data
    ]


def resolve_custom_field_code(label: str, definitions: Sequence[FieldDefinition]) -> str:
    """Return the 40-hex code of the custom field with this label (case and spacing ignored).

    Raises :class:`CustomFieldResolutionError` when no custom field, or more than one, has the label.
    """
    wanted = _label_key(label)
    codes = [
        d.code for d in definitions if _label_key(d.label) == wanted and _CUSTOM_FIELD_CODE.match(d.code)
    ]
    if not codes:
        raise CustomFieldResolutionError(
            f"No custom field labelled {label!r} in this Pipedrive account; create it in Pipedrive or "
            "correct the label in the field mapping"
        )
    if len(codes) > 1:
        raise CustomFieldResolutionError(
            f"{len(codes)} custom fields are labelled {label!r} in this Pipedrive account; rename all but "
            "one in Pipedrive"
        )
    return codes[0]


def resolve_custom_mappings(
    custom: Iterable[CustomFieldMapping], definitions: Sequence[FieldDefinition]
) -> tuple[FieldMapping, ...]:
    """Return custom mappings with their labels resolved to this account's field codes."""
    return tuple(
        FieldMapping(m.abm_field, resolve_custom_field_code(m.label, definitions), m.modes, custom=True)
        for m in custom
    )


def read_pipedrive_value(record: Mapping[str, Any], mapping: FieldMapping) -> Any:
    """Return the value a mapping reads from a Pipedrive v2 record (custom fields from ``custom_fields``)."""
    if mapping.custom:
        return (record.get("custom_fields") or {}).get(mapping.pipedrive_key)
    return record.get(mapping.pipedrive_key)


def to_abm_fields(record: Mapping[str, Any], mappings: Iterable[FieldMapping]) -> dict[str, Any]:
    """Translate a Pipedrive v2 record into ABM field names (only mapped fields)."""
    return {m.abm_field: read_pipedrive_value(record, m) for m in mappings}


def to_pipedrive_body(changes: Mapping[str, Any], mappings: Iterable[FieldMapping]) -> dict[str, Any]:
    """Translate changes keyed by ABM field names into a Pipedrive v2 write body."""
    body: dict[str, Any] = {}
    for m in mappings:
        if m.abm_field not in changes:
            continue
        if m.custom:
            body.setdefault("custom_fields", {})[m.pipedrive_key] = changes[m.abm_field]
        else:
            body[m.pipedrive_key] = changes[m.abm_field]
    return body


def modes_by_abm_field(mappings: Iterable[FieldMapping]) -> dict[str, FieldModes]:
    """Return the modes of each mapping keyed by ABM field name, ready for :mod:`sync_rules.diffs`."""
    return {m.abm_field: m.modes for m in mappings}


def _label_key(label: str) -> str:
    return " ".join(label.split()).casefold()
