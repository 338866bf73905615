"""The API v2 representation of organizations, persons and deals, and how writes change it."""

from __future__ import annotations

from typing import Any

from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.store import Entity
from pipedrive_sandbox.timestamps import format_time

VISIBLE_TO_OWNER_AND_FOLLOWERS = 3

# Fields a client may set through POST/PATCH, per entity; everything else is read-only.
WRITABLE: dict[Entity, frozenset[str]] = {
    Entity.ORGANIZATION: frozenset(
        {
            "name",
            "owner_id",
            "visible_to",
            "label_ids",
            "address",
            "website",
            "linkedin",
            "industry",
            "annual_revenue",
            "employee_count",
            "add_time",
        }
    ),
    Entity.PERSON: frozenset(
        {"name", "owner_id", "org_id", "emails", "phones", "visible_to", "label_ids", "add_time"}
    ),
    Entity.DEAL: frozenset(
        {
            "title",
            "owner_id",
            "person_id",
            "org_id",
            "pipeline_id",
            "stage_id",
            "value",
            "currency",
            "status",
            "probability",
            "lost_reason",
            "visible_to",
            "expected_close_date",
            "label_ids",
            "is_archived",
            "close_time",
            "won_time",
            "lost_time",
        }
    ),
}

REQUIRED_ON_CREATE = {Entity.ORGANIZATION: "name", Entity.PERSON: "name", Entity.DEAL: "title"}


def blank_record(entity: Entity, record_id: int, add_ts: int, owner_id: int) -> dict[str, Any]:
    """A new record of `entity` with every v2 attribute at its empty value."""
    common: dict[str, Any] = {
        "id": record_id,
        "owner_id": owner_id,
        "add_time": format_time(add_ts),
        "update_time": format_time(add_ts),
        "is_deleted": False,
        "visible_to": VISIBLE_TO_OWNER_AND_FOLLOWERS,
        "label_ids": [],
        "custom_fields": {},
    }
    if entity is Entity.ORGANIZATION:
        return {
            "name": "",
            "address": None,
            "website": None,
            "linkedin": None,
            "industry": None,
            "annual_revenue": None,
            "employee_count": None,
            **common,
        }
    if entity is Entity.PERSON:
        return {
            "name": "",
            "first_name": "",
            "last_name": "",
            "org_id": None,
            "emails": [],
            "phones": [],
            "picture_id": None,
            **common,
        }
    return {
        "title": "",
        "person_id": None,
        "org_id": None,
        "pipeline_id": 1,
        "stage_id": 1,
        "value": 0,
        "currency": "EUR",
        "stage_change_time": None,
        "is_archived": False,
        "status": "open",
        "probability": None,
        "lost_reason": None,
        "close_time": None,
        "won_time": None,
        "lost_time": None,
        "expected_close_date": None,
        "origin": "API",
        "origin_id": None,
        "channel": None,
        "channel_id": None,
        "arr": None,
        "mrr": None,
        "acv": None,
        **common,
    }


def split_name(name: str) -> tuple[str, str]:
    """First and last name of a person's full name, as Pipedrive derives them."""
    first, _, last = name.strip().partition(" ")
    return first, last


def apply_changes(entity: Entity, data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply writable `changes` to `data` in place; return the previous values of what changed."""
    unknown = set(changes) - WRITABLE[entity] - {"custom_fields"}
    if unknown:
        raise InvalidRequest(f"Unknown or read-only field(s): {', '.join(sorted(unknown))}")
    previous: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "custom_fields":
            continue
        if data.get(key) != value:
            previous[key] = data.get(key)
            data[key] = value
    if entity is Entity.PERSON and "name" in previous:
        first, last = split_name(data["name"])
        previous.setdefault("first_name", data["first_name"])
        previous.setdefault("last_name", data["last_name"])
        data["first_name"], data["last_name"] = first, last
    return previous


def apply_custom_fields(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Merge custom field values into `data`; return the previous values of those that changed."""
    current: dict[str, Any] = dict(data["custom_fields"])
    previous: dict[str, Any] = {}
    for code, value in values.items():
        if current.get(code) != value:
            previous[code] = current.get(code)
            if value is None:
                current.pop(code, None)
            else:
                current[code] = value
    data["custom_fields"] = current
    return previous
