"""Push to Pipedrive: browse ABM accounts and contacts (search, not in Pipedrive, score at least N,
revealed in the last 7 days), select some or all that match, preview the exact field changes per record
(create, update which fields, or skip and why), confirm, follow the push live, and see its result."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import MultiMapping

from console.deps import api_of, session_of
from console.form_numbers import whole_number
from console.pipedrive_field_names import built_in_field_name
from console.rendering import PageRefused, render
from console.service_api import ServiceFailed, TenantApi
from console.template_filters import has_ended

COLLECTIONS = {"accounts": ("Accounts", "organization"), "contacts": ("Contacts", "person")}
BROWSE_LIMIT = 2000
"""At most this many records are looked through for a selection (pages of 500 from the ABM store)."""
BROWSE_SHOWN = 100
"""At most this many matching records are listed to pick from (all of them can be chosen at once)."""
PUSH_CHUNK = 1000
"""The pusher takes at most this many records per request."""


@dataclass(frozen=True)
class Selection:
    """What the admin is looking at and what they picked."""

    collection: str
    q: str
    not_in_pipedrive: bool
    min_score: int | None
    revealed_days: int | None
    ids: tuple[str, ...]
    all_matching: bool

    def query(self) -> dict[str, str]:
        """The browse filters as a query string's values."""
        values = {"collection": self.collection, "q": self.q}
        if self.not_in_pipedrive:
            values["not_in_pipedrive"] = "on"
        if self.min_score is not None:
            values["min_score"] = str(self.min_score)
        if self.revealed_days is not None:
            values["revealed_days"] = str(self.revealed_days)
        return {k: v for k, v in values.items() if v}

    def matches(self, row: dict[str, Any], now: datetime) -> bool:
        """Whether a record passes the filters the ABM store cannot apply itself."""
        if self.not_in_pipedrive and row.get("pipedrive"):
            return False
        score = row.get("engagement_score")
        if self.min_score is not None and (score is None or score < self.min_score):
            return False
        if self.revealed_days is not None:
            revealed = row.get("last_revealed_at")
            if not revealed or datetime.fromisoformat(revealed) < now - timedelta(days=self.revealed_days):
                return False
        return True


def _selection(values: MultiMapping[Any]) -> Selection:
    collection = str(values.get("collection", "accounts"))
    return Selection(
        collection=collection if collection in COLLECTIONS else "accounts",
        q=str(values.get("q", "")).strip(),
        not_in_pipedrive=values.get("not_in_pipedrive") == "on",
        min_score=whole_number(values.get("min_score")),
        revealed_days=whole_number(values.get("revealed_days")),
        ids=tuple(str(v) for v in values.getall("abm_id", [])),
        all_matching=values.get("all_matching") == "on",
    )


async def _matching(
    api: TenantApi, selection: Selection, enough: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """The records passing the filters, and whether there were more: up to BROWSE_LIMIT looked through,
    or only until `enough` are found (the list to pick from needs no more; a selection needs them all)."""
    params = {"limit": "500"}
    if selection.q:
        params["q"] = selection.q
    found: list[dict[str, Any]] = []
    seen, now = 0, datetime.now(UTC)
    while seen < BROWSE_LIMIT:
        answer = await api.get("mapper", f"/v1/{selection.collection}", params)
        if not answer.ok:
            raise ServiceFailed("mapper", answer)
        page = answer.body["data"]
        seen += len(page)
        found += [r for r in page if not r.get("deleted_in_crm") and selection.matches(r, now)]
        if not answer.body.get("next_cursor"):
            return found, False
        if enough is not None and len(found) > enough:
            return found, True
        params["cursor"] = answer.body["next_cursor"]
    return found, True


async def browse(request: web.Request) -> web.Response:
    """The records to choose from."""
    selection = _selection(request.query)
    records, more = await _matching(api_of(request), selection, enough=BROWSE_SHOWN)
    context = {
        "title": "Push to Pipedrive",
        "section": "push",
        "selection": selection,
        "collections": COLLECTIONS,
        "records": records[:BROWSE_SHOWN],
        "matching": None if more else len(records),
        "limit": BROWSE_LIMIT,
    }
    return await render(request, "push.html", context)


async def _chosen(api: TenantApi, selection: Selection) -> list[dict[str, Any]]:
    records, _ = await _matching(api, selection)
    if selection.all_matching:
        return records
    wanted = set(selection.ids)
    return [r for r in records if r["abm_id"] in wanted]


def _push_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chosen records named by ABM id alone: the pusher pushes each as the ABM store holds it (its
    fields, the platform's own included, are the store's, not a caller's input to check)."""
    return [{"abm_id": r["abm_id"]} for r in records]


def nothing_to_push(selection: Selection) -> PageRefused:
    """The refusal of a preview or push of no record, leading back to the same browse (filters kept)."""
    back = f"/push?{urlencode(selection.query())}"
    return PageRefused(
        400,
        "Nothing to push",
        "Select at least one record, or “all that match”.",
        back=(back, "Back to Push to Pipedrive"),
    )


async def preview(request: web.Request) -> web.Response:
    """The exact changes a push of the chosen records would make (nothing is written)."""
    api, selection = api_of(request), _selection(await request.post())
    chosen = await _chosen(api, selection)
    if not chosen:
        raise nothing_to_push(selection)
    obj = COLLECTIONS[selection.collection][1]
    previews = await asyncio.gather(
        *(
            api.send(
                "pusher",
                "POST",
                "/v1/push/preview",
                {"object": obj, "records": _push_records(chosen[i : i + PUSH_CHUNK])},
            )
            for i in range(0, len(chosen), PUSH_CHUNK)
        )
    )
    summary: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    for answer in previews:
        if not answer.ok:
            raise PageRefused(400 if answer.status < 500 else 502, "The preview failed", answer.message)
        for action, n in answer.body["summary"].items():
            summary[action] = summary.get(action, 0) + int(n)
        items += answer.body["records"]
    names = {r["abm_id"]: (r.get("fields") or {}).get("name") for r in chosen}
    mapping, catalog = await asyncio.gather(
        api.get("pusher", "/v1/push/mapping", {"object": obj}), api.get("connector", "/v1/catalog")
    )
    written = pipedrive_fields_written(
        obj,
        mapping.body.get("fields", []) if mapping.ok else [],
        catalog.body.get("fields", {}).get(obj, []) if catalog.ok else [],
    )
    # Without the mapping the page cannot show which fields the push writes, which a push shows first
    # (DESIGN): no push is offered on it, only the preview again.
    mapping_unread = None if mapping.ok else mapping.message
    context = {
        "title": "Push preview",
        "section": "push",
        "selection": selection,
        "chosen": chosen,
        "summary": summary,
        "items": [{**item, "name": names.get(item.get("abm_id"))} for item in items],
        "collections": COLLECTIONS,
        "written": written,
        "mapping_unread": mapping_unread,
        "pipedrive_names": {f["abm_field"]: f["pipedrive_label"] for f in written},
        "settings_tab": obj,
    }
    return await render(request, "push_preview.html", context)


def pipedrive_fields_written(
    obj: str, mapping: list[dict[str, Any]], catalog_fields: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The fields a push writes (the pusher's mapping, Don't sync left out), each with the Pipedrive
    field's label from the account's catalog, or Pipedrive's name of it without one (a custom field is
    mapped by its label already)."""
    labels = {f.get("code"): f.get("label") for f in catalog_fields}
    return [
        {
            "abm_field": m["abm_field"],
            "pipedrive_label": m["pipedrive_field"]
            if m.get("custom")
            else labels.get(m["pipedrive_field"]) or built_in_field_name(obj, m["pipedrive_field"]),
            "mode": m.get("mode", ""),
        }
        for m in mapping
        if m.get("mode") and m.get("mode") != "Don't sync"
    ]


async def confirm(request: web.Request) -> web.Response:
    """Push the chosen records, then follow the push."""
    api, selection = api_of(request), _selection(await request.post())
    chosen = await _chosen(api, selection)
    if not chosen:
        raise nothing_to_push(selection)
    obj = COLLECTIONS[selection.collection][1]
    run_ids = []
    for i in range(0, len(chosen), PUSH_CHUNK):
        body = {
            "object": obj,
            "records": _push_records(chosen[i : i + PUSH_CHUNK]),
            "requested_by": session_of(request).email,
        }
        answer = await api.send("pusher", "POST", "/v1/push", body)
        if not answer.ok:
            raise PageRefused(400 if answer.status < 500 else 502, "The push was not started", answer.message)
        run_ids.append(answer.body["run_id"])
    query = urlencode({"run": run_ids, "expected": str(len(chosen))}, doseq=True)
    raise web.HTTPSeeOther(f"/push/runs?{query}")


async def _push_state(api: TenantApi, run_ids: list[str], expected: int) -> dict[str, Any]:
    answers = await asyncio.gather(*(api.get("auditlog", f"/v1/runs/{quote(r, safe='')}") for r in run_ids))
    runs = [
        a.body["data"] if a.ok else {"run_id": r, "status": None}
        for a, r in zip(answers, run_ids, strict=True)
    ]
    done_records = sum(
        int(run.get(k) or 0) for run in runs for k in ("created", "updated", "unchanged", "skipped", "failed")
    )
    return {
        "runs": runs,
        "run_ids": run_ids,
        "expected": expected,
        "done_records": done_records,
        "done": all(has_ended(run) for run in runs) and done_records >= expected,
        "query": urlencode({"run": run_ids, "expected": str(expected)}, doseq=True),
    }


async def follow(request: web.Request) -> web.Response:
    """The push's page: live progress, then its result."""
    run_ids = request.query.getall("run", [])
    if not run_ids:
        raise PageRefused(404, "No such push", "This page follows a push started from the Push page.")
    state = await _push_state(api_of(request), run_ids, whole_number(request.query.get("expected")) or 0)
    return await render(request, "push_run.html", {"title": "Push", "section": "push", **state})


async def progress_fragment(request: web.Request) -> web.Response:
    """The live part of the push's page."""
    run_ids = request.query.getall("run", [])
    state = await _push_state(api_of(request), run_ids, whole_number(request.query.get("expected")) or 0)
    return await render(request, "fragments/push_progress.html", state)


def add_push_routes(app: web.Application) -> None:
    """Mount the push pages."""
    app.router.add_get("/push", browse)
    app.router.add_post("/push/preview", preview)
    app.router.add_post("/push/confirm", confirm)
    app.router.add_get("/push/runs", follow)
    app.router.add_get("/push/runs/progress", progress_fragment)
