"""Import from Pipedrive: a wizard (object; all, filtered with an expression checked as it is typed, or
deals at pipeline stages picked by name; duplicate handling), a preview of what the import would do, the
start, a live progress bar until the run ends, and the result linked to its activity-log run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiMapping

from console.deps import api_of
from console.form_numbers import whole_number
from console.rendering import PageRefused, render
from console.service_api import ServiceFailed, TenantApi
from console.template_filters import has_ended
from sync_rules.filters import FilterError, parse_filter

OBJECTS = {"organization": "Organizations", "person": "Persons", "deal": "Deals"}
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")
"""What the preview says would become of each selected record (every one is counted in one of them)."""
EXAMPLES = {
    "organization": ['Name CONTAINS "Labs"', "Add Time > last 30 days", "Owner = current user"],
    "person": ["Add Time > last 30 days AND Owner = current user", 'Email CONTAINS "@example.com"'],
    "deal": ['Value > 10000 AND Stage = "Proposal"', 'Pipeline = "Sales"', 'Status = "open"'],
}
HANDLING = {
    "skip_duplicates": (
        "Skip duplicates",
        "Records already in the ABM platform with the same domain or email are left as they are"
        " (records imported from Pipedrive before are kept up to date, as a sync does).",
    ),
    "update_existing": (
        "Update existing records",
        "Records already in the ABM platform take Pipedrive's values.",
    ),
    "create_duplicates": (
        "Create duplicates",
        "A new record is created even where one with the same domain or email exists"
        " (records imported from Pipedrive before are updated, not copied).",
    ),
}
_SOURCES = {"organization": "organizations", "person": "persons", "deal": "deals"}


@dataclass(frozen=True)
class ImportChoice:
    """The wizard's answers."""

    object: str
    source: str  # all | filtered | stages
    filter: str
    stage_ids: tuple[int, ...]
    duplicate_handling: str

    def body(self) -> dict[str, Any]:
        """The connector's import request."""
        body: dict[str, Any] = {"duplicate_handling": self.duplicate_handling}
        if self.source == "stages":
            return {**body, "source": "deals_at_stages", "stage_ids": list(self.stage_ids)}
        if self.object == "organization":
            if self.source == "filtered":
                return {**body, "source": "filtered_organizations", "filter": self.filter}
            return {**body, "source": "all_organizations"}
        named = {**body, "source": _SOURCES[self.object]}
        return {**named, "filter": self.filter} if self.source == "filtered" else named


def _choice(form: MultiMapping[Any]) -> ImportChoice:
    obj = str(form.get("object", "organization"))
    stages = []
    for raw in form.getall("stage", []):
        stage = whole_number(raw)
        if stage is not None:
            stages.append(stage)
    return ImportChoice(
        object=obj if obj in OBJECTS else "organization",
        source=str(form.get("source", "all")),
        filter=str(form.get("filter", "")).strip(),
        stage_ids=tuple(stages),
        duplicate_handling=str(form.get("duplicate_handling", "skip_duplicates")),
    )


def _problems(choice: ImportChoice) -> dict[str, str]:
    """What the form says wrong before anything is asked of Pipedrive, by field."""
    if choice.source == "filtered":
        if not choice.filter:
            return {"filter": "Write a filter, or choose All records."}
        try:
            parse_filter(choice.filter)
        except FilterError as failure:
            return {"filter": str(failure)}
    if choice.source == "stages" and (choice.object != "deal" or not choice.stage_ids):
        return {"stages": "Pick at least one pipeline stage (deals only)."}
    if choice.duplicate_handling not in HANDLING:
        return {"duplicate_handling": "Choose how to handle duplicates."}
    return {}


async def _pipelines(api: TenantApi) -> list[dict[str, Any]]:
    answer = await api.get("connector", "/v1/catalog")
    return list(answer.body.get("pipelines", [])) if answer.ok else []


async def wizard(request: web.Request) -> web.Response:
    """The wizard's page."""
    api = api_of(request)
    connection, pipelines = await asyncio.gather(api.get_ok("connector", "/v1/connection"), _pipelines(api))
    choice = _choice(request.query)
    context = {
        "title": "Import from Pipedrive",
        "section": "import",
        "connection": connection,
        "pipelines": pipelines,
        "choice": choice,
        "objects": OBJECTS,
        "examples": EXAMPLES,
        "handling": HANDLING,
    }
    return await render(request, "import.html", context)


async def check_filter(request: web.Request) -> web.Response:
    """The filter's syntax, checked as it is typed: fine, or the problem and where it is."""
    source = request.query.get("filter", "")
    context: dict[str, Any] = {"filter": source, "error": None, "column": None}
    if source.strip():
        try:
            parse_filter(source)
        except FilterError as failure:
            context.update(error=failure.problem, column=failure.column)
    return await render(request, "fragments/filter_check.html", context)


async def example(request: web.Request) -> web.Response:
    """The filter field holding one of the examples."""
    obj = request.query.get("object", "organization")
    index = whole_number(request.query.get("index")) or 0
    chosen = EXAMPLES.get(obj, EXAMPLES["organization"])
    text = chosen[index] if index < len(chosen) else chosen[0]
    return await render(request, "fragments/filter_field.html", {"filter": text})


def skip_reasons(reasons: Any) -> list[str]:
    """The preview's reasons (per object, how many records each message skips) as lines a person
    reads, the most frequent first: `42 organizations: Duplicate found`."""
    counted: list[tuple[int, str]] = []
    for obj, by_message in (reasons if isinstance(reasons, dict) else {}).items():
        one, many = obj, _SOURCES.get(obj, obj)
        for message, records in (by_message if isinstance(by_message, dict) else {}).items():
            n = int(records)
            counted.append((n, f"{n:,} {one if n == 1 else many}: {message}"))
    return [line for _, line in sorted(counted, key=lambda pair: -pair[0])]


async def preview(request: web.Request) -> web.Response:
    """What the import would read, create, update and skip (nothing is written)."""
    choice = _choice(await request.post())
    problems = _problems(choice)
    if problems:
        return await render(
            request, "fragments/import_preview.html", {"problems": problems, "choice": choice}, status=400
        )
    answer = await api_of(request).send("connector", "POST", "/v1/imports/preview", choice.body())
    if answer.status in (400, 409):
        field = "filter" if answer.body and answer.body.get("error") == "bad_filter" else "form"
        context = {"problems": {field: answer.message}, "choice": choice}
        return await render(request, "fragments/import_preview.html", context, status=400)
    if not answer.ok:
        raise ServiceFailed("connector", answer)
    would = answer.body.get("would", {})
    totals = {k: sum(int(v.get(k, 0)) for v in would.values()) for k in OUTCOMES}
    selected = answer.body.get("selected", {})
    context = {
        "preview": answer.body,
        "totals": totals,
        "skip_reasons": skip_reasons(answer.body.get("reasons")),
        "selected_total": sum(selected.values()) if isinstance(selected, dict) else selected,
        "choice": choice,
        "objects": OBJECTS,
    }
    return await render(request, "fragments/import_preview.html", context)


async def start(request: web.Request) -> web.Response:
    """Start the import and follow it."""
    form = await request.post()
    choice = _choice(form)
    problems = _problems(choice)
    if problems:
        raise PageRefused(400, "The import was not started", " ".join(problems.values()))
    answer = await api_of(request).send("connector", "POST", "/v1/imports", choice.body())
    if not answer.ok:
        raise PageRefused(
            answer.status if answer.status < 500 else 502, "The import was not started", answer.message
        )
    expected = whole_number(form.get("expected"))
    suffix = f"?expected={expected}" if expected is not None else ""
    raise web.HTTPSeeOther(f"/import/runs/{quote(answer.body['run_id'], safe='')}{suffix}")


async def _progress(api: TenantApi, run_id: str, expected: int | None) -> dict[str, Any]:
    connector_answer, logged, applied = await asyncio.gather(
        api.get("connector", f"/v1/runs/{quote(run_id, safe='')}"),
        api.get("auditlog", f"/v1/runs/{quote(run_id, safe='')}"),
        api.get("auditlog", f"/v1/runs/apply-{quote(run_id, safe='')}"),
    )
    if connector_answer.status == 404:
        raise PageRefused(404, "No such import", "There is no import with this id for your team.")
    if not connector_answer.ok:
        raise ServiceFailed("connector", connector_answer)
    run = connector_answer.body
    progress = run.get("progress") or {}
    selected = progress.get("selected", {})
    emitted = sum(selected.values()) if isinstance(selected, dict) else int(selected or 0)
    apply_run = applied.body.get("data") if applied.ok else None
    applied_count = (
        sum(int(apply_run.get(k) or 0) for k in ("created", "updated", "unchanged", "skipped", "failed"))
        if apply_run
        else 0
    )
    read_done = run.get("state") == "finished"
    apply_done = emitted == 0 or (apply_run is not None and has_ended(apply_run))
    logged_run = logged.body.get("data") if logged.ok else None
    return {
        "run": run,
        "logged": logged_run,
        "apply_run": apply_run,
        "read": int(progress.get("read", 0)),
        "emitted": emitted,
        "applied": applied_count,
        "target": max(expected or 0, emitted, applied_count, 1),
        "done": read_done and apply_done and logged_run is not None and has_ended(logged_run),
        "expected": expected,
    }


async def follow(request: web.Request) -> web.Response:
    """The import's page: progress until it ends, then its result."""
    expected = whole_number(request.query.get("expected"))
    state = await _progress(api_of(request), request.match_info["run_id"], expected)
    return await render(request, "import_run.html", {"title": "Import", "section": "import", **state})


async def progress_fragment(request: web.Request) -> web.Response:
    """The progress part of the page (polled while the import runs)."""
    expected = whole_number(request.query.get("expected"))
    state = await _progress(api_of(request), request.match_info["run_id"], expected)
    return await render(request, "fragments/import_progress.html", state)


def add_import_routes(app: web.Application) -> None:
    """Mount the wizard."""
    app.router.add_get("/import", wizard)
    app.router.add_get("/import/check-filter", check_filter)
    app.router.add_get("/import/example", example)
    app.router.add_post("/import/preview", preview)
    app.router.add_post("/import/start", start)
    app.router.add_get("/import/runs/{run_id}", follow)
    app.router.add_get("/import/runs/{run_id}/progress", progress_fragment)
