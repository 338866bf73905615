"""API v2 activities: add one, list them (filtered by organization, person, deal, owner or done)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pipedrive_sandbox.app_keys import credential_of, state_of
from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.query_params import json_body, query_choice, query_int, query_limit
from pipedrive_sandbox.responses import success
from pipedrive_sandbox.state import SandboxState
from pipedrive_sandbox.store import Entity, SortField, decode_cursor, encode_cursor

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LINKED = {"org_id": Entity.ORGANIZATION, "person_id": Entity.PERSON, "deal_id": Entity.DEAL}


async def add_activity(request: web.Request) -> web.StreamResponse:
    """POST /api/v2/activities: HTTP 200 with the added activity."""
    state = state_of(request)
    body = await json_body(request)
    user_id = credential_of(request).user_id
    activity = state.activities.add(body, user_id, int(state.clock.now()), _link_check(state))
    return success(activity)


async def list_activities(request: web.Request) -> web.StreamResponse:
    """GET /api/v2/activities: a cursor page in id order (the sandbox sorts by id only)."""
    state = state_of(request)
    query_choice(request, "sort_by", ("id",), "id")
    query_choice(request, "sort_direction", ("asc",), "asc")
    filters: dict[str, Any] = {}
    for name in ("owner_id", "deal_id", "person_id", "org_id"):
        value = query_int(request, name)
        if value is not None:
            filters[name] = value
    done = request.query.get("done")
    if done:
        filters["done"] = query_choice(request, "done", ("true", "false", "1", "0"), "") in ("true", "1")
    cursor = request.query.get("cursor")
    after = decode_cursor(cursor, SortField.ID, False)[1] if cursor else None
    page, last_id = state.activities.page(filters, after, query_limit(request))
    next_cursor = encode_cursor(SortField.ID, False, (last_id, last_id)) if last_id else None
    return success(page, {"next_cursor": next_cursor})


def _link_check(state: SandboxState) -> Callable[[str, int], None]:
    def check(key: str, value: int) -> None:
        if key == "owner_id":
            if value not in state.account.users:
                raise InvalidRequest("owner_id does not match a user")
            return
        record = state.tables[_LINKED[key]].get(value)
        if record is None or record.deleted_ts is not None:
            raise InvalidRequest(f"{key} does not match a live {_LINKED[key].value}")

    return check


def activity_handlers() -> dict[str, Handler]:
    """Handlers by operation key for the v2 activity operations."""
    return {"v2.getActivities": list_activities, "v2.addActivity": add_activity}
