"""The mapper's HTTP API: the ABM store's accounts, contacts and opportunities, per tenant.

    GET /v1/{accounts|contacts|opportunities}?limit=&cursor=&q=&deleted_in_crm=
    GET /v1/{accounts|contacts|opportunities}/{abm_id}

Every call is authenticated by the tenant middleware and reads only the caller's tenant. Lists use keyset
pagination on the ABM id: `next_cursor` is null on the last page.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from mapper.abm_store import TABLES
from schemas.events.common import SyncObject
from service_runtime.http_errors import json_error
from service_runtime.http_inputs import read_query
from tenant_auth.middleware import tenant_of

COLLECTIONS = {table: obj for obj, table in TABLES.items()}
POOL = web.AppKey("pool", asyncpg.Pool)
SCHEMA = web.AppKey("schema", str)
_COLUMNS = "abm_id, match_key, is_duplicate, fields, deleted_in_crm, created_at, updated_at"
_ACCOUNT_COLUMNS = ", engagement_score, score_changed_at, reveal_count, last_revealed_at, recent_pages"


class ListQuery(BaseModel):
    """The query string of a list call."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, min_length=1, max_length=200)
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="match key or name contains"
    )
    deleted_in_crm: bool | None = None


def _collection(request: web.Request) -> tuple[str, SyncObject]:
    name = request.match_info["collection"]
    if name not in COLLECTIONS:
        raise json_error(404, "not_found", f"No collection {name}: use accounts, contacts or opportunities.")
    return name, COLLECTIONS[name]


def _columns(obj: SyncObject) -> str:
    return _COLUMNS + (_ACCOUNT_COLUMNS if obj is SyncObject.ORGANIZATION else "")


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(record).items()}


async def list_records(request: web.Request) -> web.Response:
    """One page of a collection, filtered."""
    table, obj = _collection(request)
    query = read_query(request, ListQuery)
    schema = request.app[SCHEMA]
    rows = await request.app[POOL].fetch(
        f"SELECT {_columns(obj)} FROM {schema}.{table} WHERE tenant_id = $1"
        " AND ($2::text IS NULL OR abm_id > $2)"
        " AND ($3::text IS NULL OR match_key ILIKE '%' || $3 || '%'"
        "      OR fields ->> 'name' ILIKE '%' || $3 || '%')"
        " AND ($4::boolean IS NULL OR deleted_in_crm = $4)"
        " ORDER BY abm_id LIMIT $5",
        tenant_of(request), query.cursor, query.q, query.deleted_in_crm, query.limit + 1,
    )  # fmt: skip
    page = [_row(r) for r in rows[: query.limit]]
    next_cursor = page[-1]["abm_id"] if len(rows) > query.limit else None
    return web.json_response({"data": page, "next_cursor": next_cursor})


async def get_record(request: web.Request) -> web.Response:
    """One record of the caller's tenant, or 404."""
    table, obj = _collection(request)
    row = await request.app[POOL].fetchrow(
        f"SELECT {_columns(obj)} FROM {request.app[SCHEMA]}.{table} WHERE tenant_id = $1 AND abm_id = $2",
        tenant_of(request),
        request.match_info["abm_id"],
    )
    if row is None:
        raise json_error(404, "not_found", f"No such {obj.value} for this tenant.")
    return web.json_response({"data": _row(row)})


def add_audience_routes(app: web.Application, pool: asyncpg.Pool, schema: str) -> None:
    """Mount the API on the service's application."""
    app[POOL] = pool
    app[SCHEMA] = schema
    app.router.add_get("/v1/{collection}", list_records)
    app.router.add_get("/v1/{collection}/{abm_id}", get_record)
