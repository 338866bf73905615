"""API v2 organizations, persons and deals: list, get, create, patch, delete, with every list parameter
of the published spec served (or refused) as Pipedrive does: `sort_by`, `sort_direction`, `owner_id`,
`org_id`, `person_id`, `deal_id`, `stage_id`, `pipeline_id`, `status` (deals: a comma-separated list of
open, won, lost and deleted), `ids`, `updated_since`, `updated_until`, `filter_id` (the sandbox company
has no saved filters: 404), and the record options of `pipedrive_sandbox.record_options`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pipedrive_sandbox.app_keys import credential_of, state_of
from pipedrive_sandbox.errors import InvalidRequest, NotFound
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.query_params import (
    json_body,
    path_id,
    query_choice,
    query_int,
    query_limit,
    query_list,
    query_time,
)
from pipedrive_sandbox.record_options import record_options, render
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
DEAL_STATUSES = ("open", "won", "lost")

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
        _add_status_filter(request, query, now)
    if query_int(request, "filter_id") is not None:
        raise NotFound("Filter not found")
    return query


def _add_status_filter(request: web.Request, query: ListQuery, now: float) -> None:
    """Deals of the listed statuses; `deleted` adds the deals deleted in the last 30 days (alone, it
    lists only those); without `status`, every deal that is not deleted."""
    statuses = set(query_list(request, "status"))
    unknown = statuses - {*DEAL_STATUSES, "deleted"}
    if unknown:
        raise InvalidRequest("status must be open, won, lost or deleted, or a comma-separated list of them")
    if not statuses:
        return
    live = statuses & set(DEAL_STATUSES)
    query.include_live = bool(live)
    if "deleted" in statuses:
        query.include_deleted_since = int(now) - DELETED_RETENTION_SECONDS
    if live and live != set(DEAL_STATUSES):
        query.predicates.append(lambda record: record.deleted_ts is not None or record.data["status"] in live)


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
        options = record_options(request, entity)
        records, last_key = state.tables[entity].page(query)
        next_cursor = encode_cursor(query.sort_by, query.descending, last_key) if last_key else None
        return success(render(state, entity, records, options), {"next_cursor": next_cursor})

    return handle


def get_handler(entity: Entity) -> Handler:
    """GET /api/v2/{entity}/{id}."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        record = state.entities.get(entity, path_id(request))
        return success(render(state, entity, [record], record_options(request, entity))[0])

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
