"""The auditlog's HTTP API: the activity log of the caller's tenant (the console's Activity pages).

    GET /v1/runs?limit=&cursor=&status=&service=&kind=&started_since=&started_before=   newest first
    GET /v1/runs/{run_id}                                   one run with its counts, tokens, status, links
    GET /v1/runs/{run_id}/entries?limit=&cursor=&outcome=   its per-record entries, oldest first
    GET /v1/runs/{run_id}/entries.csv?outcome=              all of them as CSV

Every call is authenticated by the tenant middleware and reads only the caller's tenant. Lists use keyset
pagination: `next_cursor` is an opaque token, null on the last page. A bad query gets a 400 naming the
parameter; an unknown run a 404.

A run's `status` is `running`, `finishing` (it ended, but `results_pending` of its records' results are not
in the log yet: its counts are its entries' so far) or its final Success, Warning or Error
(`run_views.present_run`). The status filter takes `running`, `finishing` or a final status and lists the
runs showing it now (a page may hold fewer runs than `limit`, those stored with the status but shown
otherwise; `next_cursor` still pages on). `started_since` (inclusive) and `started_before` (exclusive),
ISO 8601 times with an offset, keep the runs started within them.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from auditlog.ports import ActivityReads
from auditlog.run_views import ENTRY_COLUMNS, RunFilter, StoredRun, present_run
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunKind
from schemas.topics import SYNC_RUNS
from service_runtime.http_errors import bad_request, json_error, validation_problems
from service_runtime.http_inputs import query_document
from tenant_auth.middleware import tenant_of

Query = TypeVar("Query", bound=BaseModel)
RUN_SERVICES = SYNC_RUNS.producers
"""The services whose runs the activity log holds (they report them on psync.sync-runs.v1)."""
READS = web.AppKey("activity_reads", ActivityReads)
CSV_PAGE = 5000


class RunsQuery(BaseModel):
    """The query string of the runs list."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, min_length=1, max_length=400)
    status: Literal["Success", "Warning", "Error", "running", "finishing"] | None = None
    service: Annotated[str, WithJsonSchema({"type": "string", "enum": list(RUN_SERVICES)})] | None = None
    kind: RunKind | None = None
    started_since: AwareDatetime | None = Field(
        default=None, description="Only runs started at or after this time (ISO 8601 with an offset)."
    )
    started_before: AwareDatetime | None = Field(
        default=None, description="Only runs started before this time (ISO 8601 with an offset)."
    )

    @model_validator(mode="after")
    def _a_range_that_can_hold_runs(self) -> RunsQuery:
        """A range that ends before it starts would only ever answer an empty list."""
        if self.started_since and self.started_before and self.started_before <= self.started_since:
            raise ValueError("started_before: must be later than started_since")
        return self

    @field_validator("service")
    @classmethod
    def _a_service_that_runs_work(cls, service: str | None) -> str | None:
        """A filter naming no service that has runs would only ever answer an empty list."""
        if service is not None and service not in RUN_SERVICES:
            raise ValueError(f"must be {', '.join(RUN_SERVICES[:-1])} or {RUN_SERVICES[-1]}")
        return service


class EntriesQuery(BaseModel):
    """The query string of a run's entries."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, min_length=1, max_length=400)
    outcome: RecordOutcome | None = None


class EntriesExportQuery(BaseModel):
    """The query string of a run's CSV export."""

    model_config = ConfigDict(extra="forbid")

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


def parse_query(model: type[Query], request: web.Request) -> tuple[Query, tuple[datetime, str] | None]:
    try:
        query = model.model_validate(query_document(request))
        cursor: str | None = getattr(query, "cursor", None)
        return query, decode_cursor(cursor) if cursor else None
    except ValidationError as failure:
        raise bad_request(validation_problems(failure)) from failure
    except ValueError as failure:
        raise bad_request([str(failure)]) from failure


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


async def _presented(reads: ActivityReads, tenant: str, runs: Sequence[StoredRun]) -> list[dict[str, Any]]:
    around = await reads.relations(tenant, runs)
    return [present_run(run, around[run.run_id]) for run in runs]


async def list_runs(request: web.Request) -> web.Response:
    """One page of the tenant's runs, newest first, filtered by status, service, kind or start time."""
    query, after = parse_query(RunsQuery, request)
    reads, tenant = request.app[READS], tenant_of(request)
    where = RunFilter(query.status, query.service, query.kind, query.started_since, query.started_before)
    runs = await reads.runs_page(tenant, where, after, query.limit + 1)
    page = runs[: query.limit]
    more = len(runs) > query.limit
    next_cursor = encode_cursor(page[-1].started_at, page[-1].run_id) if more else None
    shown = await _presented(reads, tenant, page)
    if query.status is not None:  # a run still receiving its results is shown `finishing`, not as stored
        shown = [run for run in shown if run["status"] == query.status]
    return web.json_response({"data": shown, "next_cursor": next_cursor})


async def get_run(request: web.Request) -> web.Response:
    """One run of the caller's tenant, or 404."""
    reads, tenant = request.app[READS], tenant_of(request)
    run = await reads.run(tenant, request.match_info["run_id"])
    if run is None:
        raise _no_such_run()
    [shown] = await _presented(reads, tenant, [run])
    return web.json_response({"data": shown})


async def list_entries(request: web.Request) -> web.Response:
    """One page of a run's per-record entries, oldest first, filtered by outcome; 404 for an unknown run."""
    query, after = parse_query(EntriesQuery, request)
    reads, tenant, run_id = request.app[READS], tenant_of(request), request.match_info["run_id"]
    outcome = query.outcome.value if query.outcome else None
    rows = await reads.entries_page(tenant, run_id, outcome, after, query.limit + 1)
    if not rows and after is None and not await reads.run_is_known(tenant, run_id):
        raise _no_such_run()
    page = rows[: query.limit]
    more = len(rows) > query.limit
    next_cursor = encode_cursor(page[-1]["occurred_at"], page[-1]["event_id"]) if more else None
    return web.json_response({"data": [_json_row(r) for r in page], "next_cursor": next_cursor})


async def export_entries(request: web.Request) -> web.StreamResponse:
    """All of a run's entries as CSV (oldest first), written page by page; 404 for an unknown run."""
    query, _ = parse_query(EntriesExportQuery, request)
    reads, tenant, run_id = request.app[READS], tenant_of(request), request.match_info["run_id"]
    outcome = query.outcome.value if query.outcome else None
    rows = await reads.entries_page(tenant, run_id, outcome, None, CSV_PAGE)
    if not rows and not await reads.run_is_known(tenant, run_id):
        raise _no_such_run()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{_file_name(run_id)}-entries.csv"',
        }
    )
    await response.prepare(request)
    await response.write(csv_lines([ENTRY_COLUMNS]))
    while rows:
        await response.write(csv_lines([[_csv_value(r[c]) for c in ENTRY_COLUMNS] for r in rows]))
        if len(rows) < CSV_PAGE:
            break
        last = rows[-1]
        rows = await reads.entries_page(
            tenant, run_id, outcome, (last["occurred_at"], last["event_id"]), CSV_PAGE
        )
    await response.write_eof()
    return response


def csv_lines(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as CSV (RFC 4180: quoted where needed, CRLF line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _file_name(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)[:100]


def _no_such_run() -> web.HTTPException:
    return json_error(404, "not_found", "No such run for this tenant.")


def add_activity_routes(app: web.Application, reads: ActivityReads) -> None:
    """Mount the API on the service's application."""
    app[READS] = reads
    app.router.add_get("/v1/runs", list_runs)
    app.router.add_get("/v1/runs/{run_id}", get_run)
    app.router.add_get("/v1/runs/{run_id}/entries", list_entries)
    app.router.add_get("/v1/runs/{run_id}/entries.csv", export_entries)
