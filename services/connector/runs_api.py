"""Runs over HTTP: "sync now", imports (with a preview that reads and counts but emits nothing), progress
and cancel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from connector.api_support import json_error, pipedrive_failure, read_body, require_connected
from connector.catalog import Catalogs
from connector.import_filters import ImportSelection, check_filter_syntax, select_for
from connector.import_preview import ImportPlansFailed, Planner
from connector.import_preview import preview_import as import_preview
from connector.import_request import ImportRequest
from connector.ports import RunQueue
from connector.queued_runs import RunKindName
from connector.record_rereads import RetryRequest, retry_spec
from pipedrive_client import Clock, PipedriveClientFactory, PipedriveError
from schemas.events.source_changes import DuplicateHandling
from schemas.events.sync_runs import retry_run_id
from service_runtime.http_inputs import read_query
from sync_rules.filters import FilterError
from sync_rules.filters.stages import StageReferenceError
from tenant_auth.middleware import tenant_of


@dataclass(frozen=True)
class RunsApi:
    """What the runs API uses: the runs (and the scheduler's wake-up when one is queued or cancelled),
    the tenants' Pipedrive clients and catalogs, the mapper's import plans (for previews) and the clock."""

    runs: RunQueue
    work_available: asyncio.Event
    factory: PipedriveClientFactory
    catalogs: Catalogs
    import_plans: Planner
    clock: Clock
    page_size: int


API = web.AppKey("runs_api", RunsApi)
RUNS_LIST_MAX = 200


class RunsListQuery(BaseModel):
    """The query string of the runs list: how many of the latest runs. There is no paging (a `cursor` is
    refused, as is any other name): the activity log's `GET /v1/runs?service=connector` pages through all."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=RUNS_LIST_MAX)


async def sync_now(request: web.Request) -> web.Response:
    """Queue a sync of the tenant (a sync already queued is reused); 409 when not connected."""
    api, tenant = request.app[API], tenant_of(request)
    await require_connected(api.factory, tenant)
    run = await api.runs.enqueue(tenant, RunKindName.SYNC, "manual")
    api.work_available.set()
    return web.json_response(run.as_json(), status=202)


async def list_runs(request: web.Request) -> web.Response:
    """The tenant's latest runs (`limit`, 50 by default), newest first."""
    query = read_query(request, RunsListQuery)
    api, tenant = request.app[API], tenant_of(request)
    return web.json_response({"data": [r.as_json() for r in await api.runs.recent(tenant, query.limit)]})


async def get_run(request: web.Request) -> web.Response:
    """One run's progress, counts, tokens and outcome."""
    api, tenant = request.app[API], tenant_of(request)
    run = await api.runs.get(tenant, request.match_info["run_id"])
    if run is None:
        raise json_error(404, "not_found", "No such run for this tenant.")
    return web.json_response(run.as_json())


async def cancel_run(request: web.Request) -> web.Response:
    """Ask a run to stop after the page in flight."""
    api, tenant = request.app[API], tenant_of(request)
    run = await api.runs.request_cancel(tenant, request.match_info["run_id"])
    if run is None:
        raise json_error(404, "not_found", "No such run for this tenant.")
    api.work_available.set()
    return web.json_response(run.as_json(), status=202)


async def _checked_import(request: web.Request) -> tuple[ImportRequest, ImportSelection]:
    """The import body and what it selects, bound to the account: the filter's syntax is checked first
    (400 naming the column), then the connection (409), then its fields and stages (400 naming the
    column or the stage)."""
    api, tenant = request.app[API], tenant_of(request)
    wanted = await read_body(request, ImportRequest)
    try:
        if wanted.filter is not None:
            check_filter_syntax(wanted.filter)
        await require_connected(api.factory, tenant)
        selection = await select_for(api.catalogs, tenant, wanted, _now(request))
    except FilterError as failure:
        raise json_error(
            400, "bad_filter", str(failure), column=failure.column, problem=failure.problem
        ) from failure
    except StageReferenceError as failure:
        raise json_error(400, "bad_request", str(failure), problems=[str(failure)]) from failure
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure
    return wanted, selection


async def start_import(request: web.Request) -> web.Response:
    """Queue an import run."""
    api, tenant = request.app[API], tenant_of(request)
    wanted, selection = await _checked_import(request)
    # The stages are kept as the ids they named when the import was asked for.
    stored = wanted.model_copy(update={"stages": (), "stage_ids": selection.stage_ids})
    run = await api.runs.enqueue(tenant, RunKindName.IMPORT, "manual", stored.model_dump(mode="json"))
    api.work_available.set()
    return web.json_response(run.as_json(), status=202)


async def preview_import(request: web.Request) -> web.Response:
    """Read what the import would select and ask the mapper, by a dry run of its own planning, what it
    would create, update, find unchanged and skip (with the reasons) under each duplicate handling;
    nothing is emitted or written."""
    api, tenant = request.app[API], tenant_of(request)
    wanted, selection = await _checked_import(request)
    client = api.factory.for_tenant(tenant)
    try:
        preview = await import_preview(
            client,
            selection,
            api.import_plans,
            request.headers.get("Authorization", ""),
            page_size=api.page_size,
        )
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure
    except ImportPlansFailed as failure:
        raise json_error(503, "mapper_unavailable", f"The preview needs the mapper: {failure}") from failure
    chosen = preview.outcomes(wanted.duplicate_handling)
    return web.json_response(
        {
            "read": preview.tally.read,
            "selected": preview.tally.selected,
            "duplicate_handling": wanted.duplicate_handling.value,
            "would": {
                obj: {k: v for k, v in found.items() if k != "reasons"} for obj, found in chosen.items()
            },
            "reasons": {obj: found["reasons"] for obj, found in chosen.items()},
            "by_duplicate_handling": {h.value: preview.outcomes(h) for h in DuplicateHandling},
            "tokens_spent": client.tokens_spent,
        }
    )


async def start_retry(request: web.Request) -> web.Response:
    """Queue the reading again of an earlier run's failed records by id, as a run linked to it (the
    auditlog's retry); the same retry asked again answers the run already queued; 409 when not connected."""
    api, tenant = request.app[API], tenant_of(request)
    wanted = await read_body(request, RetryRequest)
    await require_connected(api.factory, tenant)
    first = await api.runs.get(tenant, wanted.retry.of)
    run_id = retry_run_id(wanted.retry.of, wanted.retry.attempt)
    run = await api.runs.enqueue_as(tenant, run_id, RunKindName.RETRY, "retry", retry_spec(wanted, first))
    api.work_available.set()
    return web.json_response(run.as_json(), status=202)


def _now(request: web.Request) -> datetime:
    return datetime.fromtimestamp(request.app[API].clock.now(), UTC)


def add_run_routes(app: web.Application, api: RunsApi) -> None:
    """Mount the runs and imports API."""
    app[API] = api
    app.router.add_post("/v1/sync", sync_now)
    app.router.add_get("/v1/runs", list_runs)
    app.router.add_get("/v1/runs/{run_id}", get_run)
    app.router.add_post("/v1/runs/{run_id}/cancel", cancel_run)
    app.router.add_post("/v1/imports", start_import)
    app.router.add_post("/v1/imports/preview", preview_import)
    app.router.add_post("/v1/retries", start_retry)
