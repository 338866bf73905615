"""Organizations, persons and deals in their API v1 shapes, for legacy clients, merge and recents.

v1 spells some things differently from v2: `active_flag` instead of `is_deleted`, `email`/`phone` instead of
`emails`/`phones`, `visible_to` as a string, times as `YYYY-MM-DD HH:MM:SS`, custom fields as top-level keys,
and (in list/get) linked owner, organization and person as objects.
"""

from __future__ import annotations

from typing import Any

from pipedrive_sandbox.account import Account
from pipedrive_sandbox.store import Entity, EntityTable, Record
from pipedrive_sandbox.timestamps import format_v1_time, parse_time

_COUNTS = (
    "open_deals_count",
    "related_open_deals_count",
    "closed_deals_count",
    "related_closed_deals_count",
    "won_deals_count",
    "related_won_deals_count",
    "lost_deals_count",
    "related_lost_deals_count",
)


def v1_record(
    entity: Entity,
    record: Record,
    tables: dict[Entity, EntityTable],
    account: Account,
    company_id: int,
    expand_links: bool = True,
) -> dict[str, Any]:
    """The v1 shape of a record; `expand_links` makes owner/org/person objects as v1 list and get do."""
    data = record.data
    owner = account.users.get(data["owner_id"])
    base: dict[str, Any] = {
        "id": record.id,
        "company_id": company_id,
        "active_flag": record.deleted_ts is None,
        "add_time": format_v1_time(record.add_ts),
        "update_time": format_v1_time(record.update_ts),
        "visible_to": str(data["visible_to"]),
        "label_ids": data["label_ids"],
        "owner_name": owner.name if owner else "",
        "next_activity_date": None,
        "next_activity_time": None,
        "next_activity_id": None,
        "last_activity_id": None,
        "last_activity_date": None,
        **{name: 0 for name in _COUNTS},
        **data["custom_fields"],
    }
    owner_value: Any = data["owner_id"]
    if expand_links and owner is not None:
        # The v1 specs type `has_pic` as a boolean on deals and an integer elsewhere; follow each.
        owner_value = {
            "id": owner.id,
            "name": owner.name,
            "email": owner.email,
            "has_pic": False if entity is Entity.DEAL else 0,
            "pic_hash": None,
            "active_flag": True,
            "value": owner.id,
        }
    if entity is Entity.ORGANIZATION:
        return {**base, **_organization(data), "owner_id": owner_value}
    org = _org_link(tables, data.get("org_id"), expand_links)
    if entity is Entity.PERSON:
        return {**base, **_person(data), "owner_id": owner_value, "org_id": org}
    return {
        **base,
        **_deal(record, tables, expand_links),
        "user_id": owner_value,
        "creator_user_id": owner_value,
        "org_id": org,
    }


def _organization(data: dict[str, Any]) -> dict[str, Any]:
    address = data.get("address") or {}
    return {
        "name": data["name"],
        "first_char": data["name"][:1].lower(),
        "country_code": None,
        "cc_email": "",
        "people_count": 0,
        "address": address.get("value", ""),
        "address_locality": address.get("locality", ""),
        "address_country": address.get("country", ""),
        "edit_name": True,
        "last_activity": None,
        "next_activity": None,
    }


def _person(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "first_name": data["first_name"],
        "last_name": data["last_name"],
        "first_char": data["name"][:1].lower(),
        "email": data["emails"] or [{"value": "", "primary": True}],
        "phone": data["phones"] or [{"value": "", "primary": True}],
        "cc_email": "",
        "participant_open_deals_count": 0,
        "participant_closed_deals_count": 0,
    }


def _deal(record: Record, tables: dict[Entity, EntityTable], expand_links: bool) -> dict[str, Any]:
    data = record.data
    person_id = data.get("person_id")
    person: Any = person_id
    if expand_links and person_id is not None and (found := tables[Entity.PERSON].get(person_id)):
        person = {
            "active_flag": found.deleted_ts is None,
            "name": found.data["name"],
            "value": person_id,
            "email": found.data["emails"],
            "phone": found.data["phones"],
        }
    return {
        "title": data["title"],
        "person_id": person,
        "stage_id": data["stage_id"],
        "pipeline_id": data["pipeline_id"],
        "value": data["value"],
        "currency": data["currency"],
        "status": data["status"],
        "active": data["status"] == "open" and record.deleted_ts is None,
        "deleted": record.deleted_ts is not None,
        "is_archived": data["is_archived"],
        "probability": data["probability"],
        "lost_reason": data["lost_reason"],
        "close_time": _v1_time(data["close_time"]),
        "won_time": _v1_time(data["won_time"]),
        "lost_time": _v1_time(data["lost_time"]),
        "stage_change_time": _v1_time(data["stage_change_time"]),
        "expected_close_date": data["expected_close_date"],
    }


def _org_link(tables: dict[Entity, EntityTable], org_id: int | None, expand: bool) -> Any:
    if org_id is None or not expand:
        return org_id
    found = tables[Entity.ORGANIZATION].get(org_id)
    if found is None:
        return None
    address = (found.data.get("address") or {}).get("value", "")
    return {
        "name": found.data["name"],
        "people_count": 0,
        "owner_id": found.data["owner_id"],
        "address": address,
        "active_flag": found.deleted_ts is None,
        "cc_email": "",
        "value": org_id,
    }


def _v1_time(value: str | None) -> str | None:
    return format_v1_time(parse_time(value)) if value else None
