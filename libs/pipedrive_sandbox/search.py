"""Search over organizations, persons and deals the way `/api/v2/{entity}/search` answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipedrive_sandbox.account import Account
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.store import Entity, EntityTable, Record

SEARCHABLE_FIELDS: dict[Entity, tuple[str, ...]] = {
    Entity.ORGANIZATION: ("address", "custom_fields", "notes", "name"),
    Entity.PERSON: ("custom_fields", "email", "notes", "phone", "name"),
    Entity.DEAL: ("custom_fields", "notes", "title"),
}


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: the term, the fields to look in and how to match."""

    entity: Entity
    term: str
    fields: tuple[str, ...]
    exact_match: bool
    person_id: int | None = None
    organization_id: int | None = None
    status: str | None = None


def make_search_request(
    entity: Entity, term: str | None, fields: str | None, exact_match: bool
) -> SearchRequest:
    """Validate search parameters: a term of 2+ characters (1 with exact_match) and known fields."""
    term = (term or "").strip()
    if len(term) < (1 if exact_match else 2):
        raise InvalidRequest("term must be at least 2 characters long (1 with exact_match)")
    allowed = SEARCHABLE_FIELDS[entity]
    chosen = tuple(f.strip() for f in fields.split(",")) if fields else allowed
    unknown = [f for f in chosen if f not in allowed]
    if unknown:
        raise InvalidRequest(f"fields must be among {', '.join(allowed)}")
    return SearchRequest(entity, term, chosen, exact_match)


def search(
    request: SearchRequest, table: EntityTable, tables: dict[Entity, EntityTable], account: Account
) -> list[dict[str, Any]]:
    """All matches as `{result_score, item}`, best first (ties by id)."""
    needle = request.term.lower()
    text_codes = {
        code
        for code, d in account.custom_fields(request.entity).items()
        if d.field_type in ("varchar", "text", "varchar_auto")
    }
    found: list[tuple[float, int, Record]] = []
    for record in table.live():
        if not _passes_filters(request, record):
            continue
        score = _best_score(needle, _candidates(request, record, text_codes), request.exact_match)
        if score > 0:
            found.append((score, record.id, record))
    found.sort(key=lambda hit: (-hit[0], hit[1]))
    return [
        {"result_score": score, "item": search_item(request.entity, record, tables, account)}
        for score, _, record in found
    ]


def _passes_filters(request: SearchRequest, record: Record) -> bool:
    data = record.data
    if request.person_id is not None and data.get("person_id") != request.person_id:
        return False
    if request.organization_id is not None and data.get("org_id") != request.organization_id:
        return False
    return request.status is None or data.get("status") == request.status


def _candidates(request: SearchRequest, record: Record, text_codes: set[str]) -> Iterable[str]:
    data = record.data
    for name in request.fields:
        if name in ("name", "title"):
            yield data[name]
        elif name == "address" and data.get("address"):
            yield str(data["address"].get("value", ""))
        elif name == "email":
            yield from (item["value"] for item in data["emails"])
        elif name == "phone":
            yield from (item["value"] for item in data["phones"])
        elif name == "custom_fields":
            yield from (str(v) for code, v in data["custom_fields"].items() if code in text_codes)


def _best_score(needle: str, candidates: Iterable[str], exact: bool) -> float:
    best = 0.0
    for candidate in candidates:
        text = candidate.lower()
        if text == needle:
            return 1.0
        if exact:
            continue
        if text.startswith(needle):
            best = max(best, 0.8)
        elif needle in text:
            best = max(best, 0.5)
    return best


def search_item(
    entity: Entity, record: Record, tables: dict[Entity, EntityTable], account: Account
) -> dict[str, Any]:
    """The `item` of a search result in the documented v2 shape."""
    data = record.data
    common = {
        "id": record.id,
        "type": entity.value,
        "visible_to": data["visible_to"],
        "owner": {"id": data["owner_id"]},
        "custom_fields": _custom_texts(data),
        "notes": [],
    }
    if entity is Entity.ORGANIZATION:
        address = data["address"]["value"] if data.get("address") else None
        return {**common, "name": data["name"], "address": address}
    organization = _link(tables[Entity.ORGANIZATION], data.get("org_id"), "name")
    if entity is Entity.PERSON:
        return {
            **common,
            "name": data["name"],
            "phones": [p["value"] for p in data["phones"]],
            "emails": [e["value"] for e in data["emails"]],
            "organization": organization,
        }
    stage = account.stages.get(data["stage_id"])
    return {
        **common,
        "title": data["title"],
        "value": int(data["value"]),
        "currency": data["currency"],
        "status": data["status"],
        "stage": {"id": data["stage_id"], "name": stage.name if stage else ""},
        "person": _link(tables[Entity.PERSON], data.get("person_id"), "name"),
        "organization": organization,
        "is_archived": data["is_archived"],
    }


def _link(table: EntityTable, record_id: int | None, label: str) -> dict[str, Any] | None:
    record = table.get(record_id) if record_id is not None else None
    return {"id": record.id, "name": record.data[label]} if record else None


def _custom_texts(data: dict[str, Any]) -> list[str]:
    return [str(v) for v in data["custom_fields"].values() if isinstance(v, str)]
