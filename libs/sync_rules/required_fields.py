"""Fields Pipedrive needs before a record can be created there.

Organization: name. Person: name and email. Deal: title and a linked organization or person.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sync_rules.diffs import is_empty
from sync_rules.objects import SyncObject

REQUIRED_FIELD_MISSING = "Required field missing"


@dataclass(frozen=True)
class RequiredFieldsCheck:
    """The outcome of a check: the missing fields, in the order Pipedrive's form lists them."""

    missing: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is missing."""
        return not self.missing

    @property
    def message(self) -> str | None:
        """``Required field missing: <field>`` for the first missing field, None when nothing is missing."""
        return f"{REQUIRED_FIELD_MISSING}: {self.missing[0]}" if self.missing else None


def _has(key: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda record: not is_empty(record.get(key))


def _has_email(record: Mapping[str, Any]) -> bool:
    entries = record.get("emails") or []
    values = [entry.get("value") if isinstance(entry, Mapping) else entry for entry in entries]
    return any(not is_empty(value) for value in values)


def _has_organization_or_person(record: Mapping[str, Any]) -> bool:
    return record.get("org_id") is not None or record.get("person_id") is not None


_RULES: Mapping[SyncObject, tuple[tuple[str, Callable[[Mapping[str, Any]], bool]], ...]] = {
    SyncObject.ORGANIZATION: (("name", _has("name")),),
    SyncObject.PERSON: (("name", _has("name")), ("email", _has_email)),
    SyncObject.DEAL: (("title", _has("title")), ("organization or person", _has_organization_or_person)),
}


def check_required_fields(sync_object: SyncObject, record: Mapping[str, Any]) -> RequiredFieldsCheck:
    """Check a Pipedrive v2 create body (``name``, ``emails``, ``title``, ``org_id``, ``person_id``).

    Blank text and empty lists count as missing.
    """
    return RequiredFieldsCheck(tuple(name for name, present in _RULES[sync_object] if not present(record)))
