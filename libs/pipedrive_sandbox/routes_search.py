"""GET /api/v2/{organizations|persons|deals}/search."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import replace

import orjson
from aiohttp import web

from pipedrive_sandbox.app_keys import state_of
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.query_params import query_bool, query_choice, query_int, query_limit
from pipedrive_sandbox.responses import success
from pipedrive_sandbox.search import make_search_request, search
from pipedrive_sandbox.store import Entity

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def search_handler(entity: Entity) -> Handler:
    """Search one entity; results are paged with an offset cursor."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        query = request.query
        wanted = make_search_request(
            entity, query.get("term"), query.get("fields"), query_bool(request, "exact_match")
        )
        if entity is Entity.DEAL:
            status = query_choice(request, "status", ("open", "won", "lost", ""), "") or None
            wanted = replace(wanted, person_id=query_int(request, "person_id"), status=status)
        if entity in (Entity.DEAL, Entity.PERSON):
            wanted = replace(wanted, organization_id=query_int(request, "organization_id"))
        limit = query_limit(request)
        offset = _offset(query.get("cursor"))
        hits = search(wanted, state.tables[entity], state.tables, state.account)
        page = hits[offset : offset + limit]
        more = offset + limit < len(hits)
        next_cursor = _cursor(offset + limit) if more else None
        return success({"items": page}, {"next_cursor": next_cursor})

    return handle


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["offset"]
        return int(offset)
    except (ValueError, KeyError, TypeError) as failure:
        raise InvalidRequest("Invalid cursor") from failure


def search_handlers() -> dict[str, Handler]:
    """Handlers by operation key for the three search operations."""
    return {
        "v2.searchOrganization": search_handler(Entity.ORGANIZATION),
        "v2.searchPersons": search_handler(Entity.PERSON),
        "v2.searchDeals": search_handler(Entity.DEAL),
    }
