"""The auditlog's HTTP API: the activity log of the caller's tenant (the console's Activity pages).

    GET /v1/runs?limit=&cursor=&status=&service=&kind=      newest first
    GET /v1/runs/{run_id}                                   one run with its counts, tokens and status
    GET /v1/runs/{run_id}/entries?limit=&cursor=&outcome=   its per-record entries, oldest first

Every call is authenticated by the tenant middleware and reads only the caller's tenant. Lists use keyset
pagination: `next_cursor` is an opaque token, null on the last page. A bad query gets a 400 naming the
parameter.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import asyncpg
import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events.common import RecordOutcome
from service_runtime.http_errors import bad_request, json_error, validation_problems
from tenant_auth.middleware import tenant_of

Query = TypeVar("Query", bound=BaseModel)
POOL = web.AppKey("activity_pool", asyncpg.Pool)
SCHEMA = web.AppKey("activity_schema", str)
_RUN_COLUMNS = (
    "run_id, service, kind, direction, objects, trigger, started_at, finished_at, created, updated,"
    " unchanged, skipped, failed, tokens_spent, status, message"
)
_ENTRY_COLUMNS = (
    "event_id, run_id, source_topic, object, direction, match_key, pipedrive_id, abm_id, outcome, message,"
    " tokens_spent, occurred_at"
)


class RunsQuery(BaseModel):
    """The query string of the runs list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, min_length=1, max_length=400)
    status: Literal["Success", "Warning", "Error", "running"] | None = None
    service: str | None = Field(default=None, min_length=1, max_length=50)
    kind: str | None = Field(default=None, min_length=1, max_length=50)


class EntriesQuery(BaseModel):
    """The query string of a run's entries."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, min_length=1, max_length=400)
    outcome: RecordOutcome | None = None


def encode_cursor(at: datetime, key: str) -> str:
    """The opaque position after a row ordered by (time, key)."""
    return base64.urlsafe_b64encode(orjson.dumps([at.isoformat(), key])).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, key) a cursor stands for; ValueError when it is not one of ours (a tampered one may
    hold any JSON: a time out of PostgreSQL's range or without its zone, a key with NUL characters)."""
    try:
        at, key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(key, str) or "\x00" in key:
            raise ValueError("not a cursor")
        return when.astimezone(UTC), key
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError) as failure:
        raise ValueError("cursor: not a cursor this API returned") from failure


def _query(model: type[Query], request: web.Request) -> tuple[Query, tuple[datetime, str] | None]:
    try:
        query = model.model_validate(dict(request.query))
        cursor: str | None = getattr(query, "cursor", None)
        return query, decode_cursor(cursor) if cursor else None
    except ValidationError as failure:
        raise bad_request(validation_problems(failure)) from failure
    except ValueError as failure:
        raise bad_request([str(failure)]) from failure


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(record).items()}


async def list_runs(request: web.Request) -> web.Response:
    """One page of the tenant's runs, newest first, filtered by status, service or kind."""
    query, after = _query(RunsQuery, request)
    at, key = after if after else (None, None)
    rows = await request.app[POOL].fetch(
        f"SELECT {_RUN_COLUMNS} FROM {request.app[SCHEMA]}.runs WHERE tenant_id = $1"
        " AND ($2::timestamptz IS NULL OR (started_at, run_id) < ($2, $3))"
        " AND ($4::text IS NULL OR coalesce(status, 'running') = $4)"
        " AND ($5::text IS NULL OR service = $5) AND ($6::text IS NULL OR kind = $6)"
        " ORDER BY started_at DESC, run_id DESC LIMIT $7",
        tenant_of(request), at, key, query.status, query.service, query.kind, query.limit + 1,
    )  # fmt: skip
    page = rows[: query.limit]
    more = len(rows) > query.limit
    next_cursor = encode_cursor(page[-1]["started_at"], page[-1]["run_id"]) if more else None
    return web.json_response({"data": [_row(r) for r in page], "next_cursor": next_cursor})


async def get_run(request: web.Request) -> web.Response:
    """One run of the caller's tenant, or 404."""
    row = await request.app[POOL].fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM {request.app[SCHEMA]}.runs WHERE tenant_id = $1 AND run_id = $2",
        tenant_of(request),
        request.match_info["run_id"],
    )
    if row is None:
        raise json_error(404, "not_found", "No such run for this tenant.")
    return web.json_response({"data": _row(row)})


async def list_entries(request: web.Request) -> web.Response:
    """One page of a run's per-record entries, oldest first, filtered by outcome."""
    query, after = _query(EntriesQuery, request)
    at, key = after if after else (None, None)
    rows = await request.app[POOL].fetch(
        f"SELECT {_ENTRY_COLUMNS} FROM {request.app[SCHEMA]}.entries WHERE tenant_id = $1 AND run_id = $2"
        " AND ($3::timestamptz IS NULL OR (occurred_at, event_id) > ($3, $4))"
        " AND ($5::text IS NULL OR outcome = $5)"
        " ORDER BY occurred_at, event_id LIMIT $6",
        tenant_of(request), request.match_info["run_id"], at, key,
        query.outcome.value if query.outcome else None, query.limit + 1,
    )  # fmt: skip
    page = rows[: query.limit]
    more = len(rows) > query.limit
    next_cursor = encode_cursor(page[-1]["occurred_at"], page[-1]["event_id"]) if more else None
    return web.json_response({"data": [_row(r) for r in page], "next_cursor": next_cursor})


def add_activity_routes(app: web.Application, pool: asyncpg.Pool, schema: str) -> None:
    """Mount the API on the service's application."""
    app[POOL] = pool
    app[SCHEMA] = schema
    app.router.add_get("/v1/runs", list_runs)
    app.router.add_get("/v1/runs/{run_id}", get_run)
    app.router.add_get("/v1/runs/{run_id}/entries", list_entries)
