"""Whether a record's fields, by ABM field name, are fields the ABM platform keeps on the object, each with
a value of the kind the field holds (`sync_rules.field_types`) or null.

A manual push refuses a record otherwise, before anything is previewed or written: a field nobody knows
would be dropped unseen, and a value of another kind planned as a change Pipedrive refuses (a list as an
organization's name). Settings name ABM fields by the same rule (`mapping_checks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sync_rules.field_types import ABM_FIELD_KINDS, AbmKind, abm_field_kind
from sync_rules.objects import SyncObject

ABM_COLLECTIONS: Mapping[SyncObject, str] = {
    SyncObject.ORGANIZATION: "accounts",
    SyncObject.PERSON: "contacts",
    SyncObject.DEAL: "opportunities",
}
"""What the ABM platform calls each object's records."""


class AbmValue(NamedTuple):
    """The JSON values a field of one kind takes, and how to ask for them."""

    types: tuple[type, ...]
    asked: str


_PIPEDRIVE_ID = AbmValue((int,), "a Pipedrive id (a whole number)")
ABM_VALUES: Mapping[AbmKind, AbmValue] = {
    AbmKind.TEXT: AbmValue((str,), "a string"),
    AbmKind.INTEGER: AbmValue((int,), "a whole number"),
    AbmKind.NUMBER: AbmValue((int, float), "a number"),
    AbmKind.DATE: AbmValue((str,), "a date string (YYYY-MM-DD)"),
    AbmKind.TIME: AbmValue((str,), "a date and time string"),
    AbmKind.USER: AbmValue((str, int), "the owner's email or their Pipedrive user id"),
    AbmKind.ORGANIZATION: _PIPEDRIVE_ID,
    AbmKind.PERSON: _PIPEDRIVE_ID,
    AbmKind.PIPELINE: _PIPEDRIVE_ID,
    AbmKind.STAGE: _PIPEDRIVE_ID,
    AbmKind.STATUS: AbmValue((str,), "a string (open, won or lost)"),
}
"""The JSON values each ABM kind takes (null aside, which every field takes: no value)."""

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "true or false"),
    (str, "a string"),
    (int, "a whole number"),
    (float, "a number"),
    (list, "a list"),
    (dict, "an object"),
)


def unknown_field_problem(obj: SyncObject, abm_field: str) -> str | None:
    """Why the ABM platform has no such field on the object's records, or None when it has."""
    if abm_field_kind(obj, abm_field) is not None:
        return None
    known = ", ".join(sorted(ABM_FIELD_KINDS[obj]))
    return f'ABM {ABM_COLLECTIONS[obj]} have no field "{abm_field}"; expected one of: {known}'


def field_value_problem(obj: SyncObject, abm_field: str, value: Any) -> str | None:
    """Why `value` cannot be the object's ABM field `abm_field` (an unknown field, or a value of a kind
    the field does not hold), or None when it can."""
    kind = abm_field_kind(obj, abm_field)
    if kind is None:
        return unknown_field_problem(obj, abm_field)
    if value is None or value_fits(kind, value):
        return None
    return f"{abm_field} holds {kind.value}: give {ABM_VALUES[kind].asked} or null, not {json_type_of(value)}"


def record_field_problems(obj: SyncObject, fields: Mapping[str, Any]) -> dict[str, str]:
    """The problem of each field of a record that has one, by field name (empty when all can be)."""
    found = ((name, field_value_problem(obj, name, value)) for name, value in fields.items())
    return {name: problem for name, problem in found if problem is not None}


def value_fits(kind: AbmKind, value: Any) -> bool:
    """Whether a JSON value (not null) is one a field of this kind takes; true and false are no numbers."""
    return not isinstance(value, bool) and isinstance(value, ABM_VALUES[kind].types)


def json_type_of(value: Any) -> str:
    """A JSON value's type as people read it."""
    return next((called for kind, called in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)
