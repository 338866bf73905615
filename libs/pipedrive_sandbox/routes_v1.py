"""v1 operations that are still current: webhooks, merge and recents; plus legacy v1 entity list/get."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pipedrive_sandbox.app_keys import credential_of, state_of
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.query_params import json_body, path_id, query_int, query_time
from pipedrive_sandbox.responses import json_response, success
from pipedrive_sandbox.store import Entity, ListQuery, SortField
from pipedrive_sandbox.timestamps import format_v1_time
from pipedrive_sandbox.v1_shapes import v1_record

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RECENTS_REACH_SECONDS = 31 * 24 * 3600
V1_MAX_LIMIT = 500


async def list_webhooks(request: web.Request) -> web.StreamResponse:
    """GET /v1/webhooks."""
    state = state_of(request)
    hooks = [w.as_v1(state.config.company_id) for w in state.webhooks.webhooks.values()]
    return json_response({"success": True, "status": "ok", "data": hooks})


async def add_webhook(request: web.Request) -> web.StreamResponse:
    """POST /v1/webhooks: HTTP 201."""
    state = state_of(request)
    body = await json_body(request)
    try:
        webhook = state.webhooks.add(body, credential_of(request).user_id)
    except InvalidRequest as failure:
        errors = {"message": failure.message}
        return json_response({"success": False, "status": "error", "errors": errors}, status=400)
    return json_response(
        {"success": True, "status": "ok", "data": webhook.as_v1(state.config.company_id)}, 201
    )


async def delete_webhook(request: web.Request) -> web.StreamResponse:
    """DELETE /v1/webhooks/{id}."""
    state_of(request).webhooks.remove(path_id(request))
    return json_response({"success": True, "status": "ok"})


def merge_handler(entity: Entity) -> Handler:
    """PUT /v1/{entity}/{id}/merge: `{id}` is merged into `merge_with_id` and deleted."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        body = await json_body(request)
        try:
            merge_with_id = int(body["merge_with_id"])
        except (KeyError, TypeError, ValueError) as failure:
            raise InvalidRequest("merge_with_id is required") from failure
        user_id = credential_of(request).user_id
        survivor = state.entities.merge(entity, path_id(request), merge_with_id, user_id, ChangeSource.API)
        if entity is Entity.ORGANIZATION:
            return success({"id": survivor.id})
        shaped = v1_record(entity, survivor, state.tables, state.account, state.config.company_id, False)
        return success({**shaped, "merge_what_id": path_id(request)})

    return handle


async def recents(request: web.Request) -> web.StreamResponse:
    """GET /v1/recents: changes since `since_timestamp` (clamped to one month back), deleted records
    included (`active_flag` false; deals also `deleted` true)."""
    state = state_of(request)
    since = query_time(request, "since_timestamp")
    if since is None:
        raise InvalidRequest("since_timestamp is required")
    now = state.clock.now()
    since = max(since, int(now - RECENTS_REACH_SECONDS))
    wanted = request.query.get("items")
    entities = [e for e in Entity if wanted is None or e.value in wanted.split(",")]
    start = query_int(request, "start") or 0
    limit = min(query_int(request, "limit") or 100, V1_MAX_LIMIT)
    items: list[dict[str, Any]] = []
    for entity in entities:
        query = ListQuery(limit=10**9, sort_by=SortField.UPDATE_TIME, updated_since=since)
        live, _ = state.tables[entity].page(query)
        deleted = [r for r in state.tables[entity].records.values() if r.deleted_ts and r.update_ts >= since]
        for record in sorted([*live, *deleted], key=lambda r: (r.update_ts, r.id)):
            shaped = v1_record(entity, record, state.tables, state.account, state.config.company_id)
            if entity is Entity.PERSON and record.merged_from_id is not None:
                # Recents list persons as `mergePersonItem`: a survivor names the person merged into it.
                shaped["merge_what_id"] = record.merged_from_id
            items.append({"item": entity.value, "id": record.id, "data": shaped})
    page = items[start : start + limit]
    more = start + limit < len(items)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return success(
        page,
        {"since_timestamp": _v1(since), "last_timestamp_on_page": _v1(int(now)), "pagination": pagination},
    )


def _v1(epoch: int) -> str:
    return format_v1_time(epoch)


def legacy_list_handler(entity: Entity) -> Handler:
    """GET /v1/{entity} (retired API, served for legacy clients): start/limit pagination by id."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        start = query_int(request, "start") or 0
        limit = min(query_int(request, "limit") or 100, V1_MAX_LIMIT)
        owner = query_int(request, "user_id")
        records = [r for r in state.tables[entity].live() if owner is None or r.data["owner_id"] == owner]
        page = records[start : start + limit]
        data = [v1_record(entity, r, state.tables, state.account, state.config.company_id) for r in page]
        more = start + limit < len(records)
        pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return success(data or None, {"pagination": pagination})

    return handle


def legacy_get_handler(entity: Entity) -> Handler:
    """GET /v1/{entity}/{id} (retired API, served for legacy clients)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        record = state.entities.get(entity, path_id(request))
        return success(v1_record(entity, record, state.tables, state.account, state.config.company_id))

    return handle


def v1_handlers() -> dict[str, Handler]:
    """Handlers by operation key for the v1 operations."""
    handlers: dict[str, Handler] = {
        "v1.getWebhooks": list_webhooks,
        "v1.addWebhook": add_webhook,
        "v1.deleteWebhook": delete_webhook,
        "v1.getRecents": recents,
    }
    for entity, one, many in (
        (Entity.ORGANIZATION, "Organization", "Organizations"),
        (Entity.PERSON, "Person", "Persons"),
        (Entity.DEAL, "Deal", "Deals"),
    ):
        handlers[f"v1.merge{many}"] = merge_handler(entity)
        handlers[f"legacy.get{many}"] = legacy_list_handler(entity)
        handlers[f"legacy.get{one}"] = legacy_get_handler(entity)
    return handlers
