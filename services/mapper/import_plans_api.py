"""`POST /v1/import-plans`: a dry run of an import (read-only; `mapper.import_plans`).

The body is newline-delimited JSON, streamed as the caller reads Pipedrive: a first line
`{"duplicate_handlings": [...]}`, then one `psync.source.changed` payload (a `SourceChange`) per line, the
changes the import would emit, in order. The answer counts, per duplicate handling and object, what would
be created, updated, found unchanged, skipped or failed, with the reasons. Tenant-authenticated like the
rest of the API; nothing is written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mapper.import_plans import plan_import
from mapper.ports import MapperStore, TenantSettingsSource
from schemas.events.source_changes import DuplicateHandling, SourceChange
from service_runtime.http_errors import bad_request, json_error, validation_problems
from tenant_auth.middleware import tenant_of

PLANS_STORE = web.AppKey("import_plans_store", MapperStore)
PLANS_SETTINGS = web.AppKey("import_plans_settings", TenantSettingsSource)
BATCH = 500
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_CHANGES = 1_000_000


class ImportPlanRequest(BaseModel):
    """The first line of the body: which duplicate handlings to plan."""

    model_config = ConfigDict(extra="forbid")

    duplicate_handlings: list[DuplicateHandling] = Field(min_length=1, max_length=3)


class ImportPlanAnswer(BaseModel):
    """The answer: `planned` changes; `by_duplicate_handling[handling][object]` holds the outcome counts
    (`created`, `updated`, `unchanged`, `skipped`, `failed`) and `reasons` (message: count)."""

    planned: int
    by_duplicate_handling: dict[str, dict[str, dict[str, object]]]


class _BadLine(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


async def _lines(request: web.Request) -> AsyncIterator[bytes]:
    buffered = b""
    async for chunk in request.content.iter_any():
        buffered += chunk
        *complete, buffered = buffered.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
        if len(buffered) > MAX_LINE_BYTES:
            raise _BadLine(f"a line is longer than {MAX_LINE_BYTES} bytes")
    if buffered.strip():
        yield buffered


async def _batches(lines: AsyncIterator[bytes], counted: list[int]) -> AsyncIterator[Sequence[SourceChange]]:
    batch: list[SourceChange] = []
    async for line in lines:
        number = counted[0] + len(batch) + 2
        try:
            batch.append(SourceChange.model_validate_json(line))
        except ValidationError as failure:
            problems = "; ".join(validation_problems(failure))
            raise _BadLine(f"line {number}: {problems}") from failure
        if len(batch) >= BATCH:
            counted[0] += len(batch)
            yield batch
            batch = []
        if counted[0] + len(batch) > MAX_CHANGES:
            raise _BadLine(f"at most {MAX_CHANGES} changes per plan")
    if batch:
        counted[0] += len(batch)
        yield batch


async def plan_import_changes(request: web.Request) -> web.Response:
    """Plan the streamed changes of an import without writing anything."""
    tenant = tenant_of(request)
    lines = _lines(request)
    try:
        first = await anext(lines, None)
        if first is None:
            raise _BadLine('the body is empty; the first line is {"duplicate_handlings": [...]}')
        try:
            wanted = ImportPlanRequest.model_validate_json(first)
        except ValidationError as failure:
            raise bad_request([f"line 1: {p}" for p in validation_problems(failure)]) from failure
        settings = await request.app[PLANS_SETTINGS].get(tenant)
        counted = [0]
        outcomes = await plan_import(
            request.app[PLANS_STORE], tenant, settings, wanted.duplicate_handlings, _batches(lines, counted)
        )
    except _BadLine as bad:
        raise bad_request([bad.problem]) from bad
    except orjson.JSONDecodeError as failure:
        raise json_error(400, "bad_request", "A line is not valid JSON.") from failure
    answer = ImportPlanAnswer(
        planned=counted[0],
        by_duplicate_handling={h.value: o.as_json() for h, o in outcomes.items()},
    )
    return web.json_response(answer.model_dump(mode="json"))


def add_import_plan_routes(app: web.Application, store: MapperStore, settings: TenantSettingsSource) -> None:
    """Mount the dry-run API."""
    app[PLANS_STORE] = store
    app[PLANS_SETTINGS] = settings
    app.router.add_post("/v1/import-plans", plan_import_changes)
