"""API v2 organizations, persons and deals: list, get, create, patch, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pipedrive_sandbox.app_keys import credential_of, state_of
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.query_params import (
    json_body,
    path_id,
    query_choice,
    query_int,
    query_limit,
    query_time,
)
from pipedrive_sandbox.responses import success
from pipedrive_sandbox.store import (
    DELETED_RETENTION_SECONDS,
    Entity,
    ListQuery,
    Record,
    SortField,
    decode_cursor,
    encode_cursor,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_IDS = 100

# Which integer filters each list accepts, and the record attribute each one compares.
_FILTERS: dict[Entity, tuple[str, ...]] = {
    Entity.ORGANIZATION: ("owner_id",),
    Entity.PERSON: ("owner_id", "org_id"),
    Entity.DEAL: ("owner_id", "org_id", "person_id", "stage_id", "pipeline_id"),
}


def build_list_query(request: web.Request, entity: Entity, now: float) -> ListQuery:
    """Turn v2 list parameters into a store query."""
    sort_by = SortField(query_choice(request, "sort_by", tuple(f.value for f in SortField), "id"))
    descending = query_choice(request, "sort_direction", ("asc", "desc"), "asc") == "desc"
    query = ListQuery(limit=query_limit(request), sort_by=sort_by, descending=descending)
    cursor = request.query.get("cursor")
    if cursor:
        query.cursor_key = decode_cursor(cursor, sort_by, descending)
    query.updated_since = query_time(request, "updated_since")
    query.updated_until = query_time(request, "updated_until")
    ids = _ids(request)
    if ids is not None:
        query.predicates.append(lambda record: record.id in ids)
    for name in _FILTERS[entity]:
        value = query_int(request, name)
        if value is not None:
            query.predicates.append(_equals(name, value))
    if entity is Entity.PERSON:
        _add_deal_filter(request, query)
    if entity is Entity.DEAL:
        status = request.query.get("status")
        if status == "deleted":
            query.include_deleted_since = int(now) - DELETED_RETENTION_SECONDS
        elif status:
            query.predicates.append(
                _equals("status", query_choice(request, "status", ("open", "won", "lost"), ""))
            )
    return query


def _ids(request: web.Request) -> set[int] | None:
    raw = request.query.get("ids")
    if not raw:
        return None
    try:
        ids = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError as failure:
        raise InvalidRequest("ids must be a comma-separated list of integers") from failure
    if len(ids) > MAX_IDS:
        raise InvalidRequest(f"ids accepts at most {MAX_IDS} values")
    return ids


def _equals(attribute: str, value: Any) -> Callable[[Record], bool]:
    return lambda record: record.data.get(attribute) == value


def _add_deal_filter(request: web.Request, query: ListQuery) -> None:
    deal_id = query_int(request, "deal_id")
    if deal_id is None:
        return
    deal = state_of(request).tables[Entity.DEAL].get(deal_id)
    person_id = deal.data.get("person_id") if deal else None
    query.predicates.append(lambda record: record.id == person_id)


def list_handler(entity: Entity) -> Handler:
    """GET /api/v2/{entity}: a cursor page of records."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        query = build_list_query(request, entity, state.clock.now())
        records, last_key = state.tables[entity].page(query)
        next_cursor = encode_cursor(query.sort_by, query.descending, last_key) if last_key else None
        return success([record.data for record in records], {"next_cursor": next_cursor})

    return handle


def get_handler(entity: Entity) -> Handler:
    """GET /api/v2/{entity}/{id}."""

    async def handle(request: web.Request) -> web.StreamResponse:
        record = state_of(request).entities.get(entity, path_id(request))
        return success(record.data)

    return handle


def create_handler(entity: Entity) -> Handler:
    """POST /api/v2/{entity}: HTTP 200 with the created record."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        user_id = credential_of(request).user_id
        record = state_of(request).entities.create(entity, body, user_id, ChangeSource.API)
        return success(record.data)

    return handle


def update_handler(entity: Entity) -> Handler:
    """PATCH /api/v2/{entity}/{id}."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        user_id = credential_of(request).user_id
        record = state_of(request).entities.update(entity, path_id(request), body, user_id, ChangeSource.API)
        return success(record.data)

    return handle


def delete_handler(entity: Entity) -> Handler:
    """DELETE /api/v2/{entity}/{id}: soft delete."""

    async def handle(request: web.Request) -> web.StreamResponse:
        user_id = credential_of(request).user_id
        record = state_of(request).entities.delete(entity, path_id(request), user_id, ChangeSource.API)
        return success({"id": record.id})

    return handle


def entity_handlers() -> dict[str, Handler]:
    """Handlers by operation key for the v2 entity operations."""
    names = {
        Entity.ORGANIZATION: ("Organization", "Organizations"),
        Entity.PERSON: ("Person", "Persons"),
        Entity.DEAL: ("Deal", "Deals"),
    }
    handlers: dict[str, Handler] = {}
    for entity, (one, many) in names.items():
        handlers[f"v2.get{many}"] = list_handler(entity)
        handlers[f"v2.get{one}"] = get_handler(entity)
        handlers[f"v2.add{one}"] = create_handler(entity)
        handlers[f"v2.update{one}"] = update_handler(entity)
        handlers[f"v2.delete{one}"] = delete_handler(entity)
    return handlers
