"""The activity log: runs newest first with their status badges (running and finishing runs refresh their
counts), filters, and a run's page with its reason in words, per-record entries (refreshed with its summary
while the run is running or finishing, in one request), CSV export and retry."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from console.deps import api_of
from console.error_help import help_for
from console.pipedrive_links import record_url
from console.problem_words import plain_problems
from console.rendering import PageRefused, is_htmx, redirect_with_notice, render
from console.service_api import ServiceFailed, TenantApi
from console.template_filters import has_ended

FILTERS = ("service", "kind", "status", "since", "until")
SERVICES = ("connector", "mapper", "pusher")
KINDS = {"sync": "Sync", "import": "Import", "apply": "Apply", "push": "Push", "auto_push": "Auto-push"}
STATUSES = ("Success", "Warning", "Error", "running", "finishing")
PAGE_SIZE = 50
ENTRIES_PAGE = 100


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def started_range(since: date | None, until: date | None) -> dict[str, str]:
    """The activity log API's start-time filter of a From and a To day (UTC days, both included)."""
    bounds = {}
    if since is not None:
        bounds["started_since"] = datetime.combine(since, time(), UTC).isoformat()
    if until is not None:
        bounds["started_before"] = datetime.combine(until + timedelta(days=1), time(), UTC).isoformat()
    return bounds


async def _runs_page(
    api: TenantApi, params: dict[str, str], cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the runs the filters keep, and the cursor of the next page (None on the last)."""
    query = params | {"limit": str(PAGE_SIZE)} | ({"cursor": cursor} if cursor else {})
    answer = await api.get("auditlog", "/v1/runs", query)
    if answer.status == 400:
        raise PageRefused(400, "That filter can't be used", plain_problems(answer.problems, answer.message))
    if not answer.ok:
        raise ServiceFailed("auditlog", answer)
    return answer.body["data"], answer.body["next_cursor"]


async def list_runs(request: web.Request) -> web.Response:
    """One page of runs, newest first, filtered."""
    chosen = {k: request.query.get(k, "") for k in FILTERS}
    params = {k: chosen[k] for k in ("service", "kind", "status") if chosen[k]}
    since, until = _day(chosen["since"]), _day(chosen["until"])
    backwards = since is not None and until is not None and until < since
    runs: list[dict[str, Any]] = []
    next_cursor: str | None = None
    if not backwards:
        runs, next_cursor = await _runs_page(
            api_of(request), params | started_range(since, until), request.query.get("cursor")
        )
    next_link = (
        "/activity?" + urlencode({**{k: v for k, v in chosen.items() if v}, "cursor": next_cursor})
        if next_cursor
        else None
    )
    context = {
        "title": "Activity log",
        "section": "activity",
        "runs": runs,
        "chosen": chosen,
        "services": SERVICES,
        "kinds": KINDS,
        "statuses": STATUSES,
        "next_link": next_link,
        # The first page refreshes itself, unless it ends before today (no new run can fall in it).
        "live": not request.query.get("cursor")
        and not backwards
        and (until is None or until >= datetime.now(UTC).date()),
        "filter_problem": "The To date is before the From date: no run can match." if backwards else None,
        "running": not all(has_ended(r) for r in runs),
        "query_string": request.query_string,
    }
    template = "fragments/run_rows.html" if is_htmx(request) else "activity.html"
    return await render(request, template, context)


def _no_such_run() -> PageRefused:
    return PageRefused(404, "No such run", "The activity log has no run with this id for your team.")


async def _run(api: TenantApi, run_id: str) -> dict[str, Any]:
    answer = await api.get("auditlog", f"/v1/runs/{quote(run_id, safe='')}")
    if answer.status == 404:
        raise _no_such_run()
    if not answer.ok:
        raise ServiceFailed("auditlog", answer)
    run: dict[str, Any] = answer.body["data"]
    return run


async def _entries(api: TenantApi, run_id: str, outcome: str | None, cursor: str | None) -> dict[str, Any]:
    params = {"limit": str(ENTRIES_PAGE)}
    if outcome:
        params["outcome"] = outcome
    if cursor:
        params["cursor"] = cursor
    answer = await api.get("auditlog", f"/v1/runs/{quote(run_id, safe='')}/entries", params)
    if answer.status == 404:
        raise _no_such_run()
    if not answer.ok:
        raise ServiceFailed("auditlog", answer)
    body: dict[str, Any] = answer.body
    return body


async def _records(request: web.Request) -> dict[str, Any]:
    """The run and one page of its records (each with its link into Pipedrive), as the run's page and its
    records' refresh show them."""
    api, run_id = api_of(request), request.match_info["run_id"]
    outcome, cursor = request.query.get("outcome") or None, request.query.get("cursor") or None
    run, connection, entries = await asyncio.gather(
        _run(api, run_id),
        api.get_ok("connector", "/v1/connection"),
        _entries(api, run_id, outcome, cursor),
    )
    domain = connection.get("api_domain")
    rows = [{**e, "url": record_url(domain, e.get("object"), e.get("pipedrive_id"))} for e in entries["data"]]
    asked = {k: v for k, v in (("outcome", outcome), ("cursor", cursor)) if v}
    return {
        "run": run,
        "kinds": KINDS,
        "entries": rows,
        "outcome": outcome or "",
        "next_cursor": entries.get("next_cursor"),
        "records_query": f"?{urlencode(asked)}" if asked else "",
    }


async def show_run(request: web.Request) -> web.Response:
    """A run's page: what happened, why, what to do, and its records."""
    records = await _records(request)
    run = records["run"]
    messages = [run.get("message"), *(e.get("message") for e in records["entries"])]
    context = {
        "title": f"Run {run['run_id']}",
        "section": "activity",
        **records,
        "help": help_for(messages),
    }
    return await render(request, "run.html", context)


async def run_summary(request: web.Request) -> web.Response:
    """The live part of a run's page, refreshed every 2 s while the run is running or finishing: its
    summary, and its records (the page's outcome and cursor) swapped in out of band, from one read of the
    run."""
    return await render(request, "fragments/run_live.html", {**await _records(request), "oob": True})


async def export_entries(request: web.Request) -> web.StreamResponse:
    """Every entry of a run as CSV (the activity log's own export when it has one)."""
    api, run_id = api_of(request), request.match_info["run_id"]
    await _run(api, run_id)
    status, body, content_type = await api.api.fetch_text(
        "auditlog", f"/v1/runs/{quote(run_id, safe='')}/entries.csv", tenant=api.tenant, actor=api.actor
    )
    if status != 200 or content_type != "text/csv":
        body = (await _entries_as_csv(api, run_id)).encode()
    disposition = f'attachment; filename="run-{run_id}.csv"'
    return web.Response(body=body, content_type="text/csv", headers={"Content-Disposition": disposition})


async def _entries_as_csv(api: TenantApi, run_id: str) -> str:
    columns = [
        "occurred_at",
        "object",
        "direction",
        "match_key",
        "pipedrive_id",
        "abm_id",
        "outcome",
        "message",
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    cursor: str | None = None
    while True:
        page = await _entries(api, run_id, None, cursor)
        writer.writerows([[e.get(c) for c in columns] for e in page["data"]])
        cursor = page.get("next_cursor")
        if not cursor:
            return out.getvalue()


async def retry_failed(request: web.Request) -> web.Response:
    """Retry a run's failed records as a new run, then show it."""
    run_id = request.match_info["run_id"]
    answer = await api_of(request).send("auditlog", "POST", f"/v1/runs/{quote(run_id, safe='')}/retry")
    if not answer.ok:
        return await redirect_with_notice(
            request, f"/activity/runs/{run_id}", f"Nothing was retried: {answer.message}"
        )
    retry = answer.body.get("data", answer.body)
    new_id = retry.get("run_id")
    target = f"/activity/runs/{new_id}" if new_id else f"/activity/runs/{run_id}"
    return await redirect_with_notice(
        request, target, "The failed records are being retried in this new run."
    )


def add_activity_routes(app: web.Application) -> None:
    """Mount the activity log."""
    app.router.add_get("/activity", list_runs)
    app.router.add_get("/activity/runs/{run_id}", show_run)
    app.router.add_get("/activity/runs/{run_id}/summary", run_summary)
    app.router.add_get("/activity/runs/{run_id}/entries.csv", export_entries)
    app.router.add_post("/activity/runs/{run_id}/retry", retry_failed)
