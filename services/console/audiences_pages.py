"""Audiences: the ABM store's accounts, contacts and opportunities, searchable, with "deleted in CRM",
the engagement score and a link to the record in Pipedrive."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from console.deps import api_of
from console.pipedrive_links import record_url
from console.problem_words import plain_problems
from console.rendering import PageRefused, is_htmx, render
from console.service_api import ServiceFailed

COLLECTIONS = {
    "accounts": ("Accounts", "organization"),
    "contacts": ("Contacts", "person"),
    "opportunities": ("Opportunities", "deal"),
}
PAGE_SIZE = 50
LINK_KEYS = {"pipedrive", "pipedrive_id", "pipedrive_url"}
"""Fields by which the store says whether a record is linked to Pipedrive (without them: unknown)."""


def _pipedrive_url(row: dict[str, Any], api_domain: str | None, pipedrive_object: str) -> str | None:
    """The record's Pipedrive link: the store's own when it gives one, else built from its Pipedrive id."""
    given_link = row.get("pipedrive")
    link: dict[str, Any] = given_link if isinstance(given_link, dict) else {}
    given = row.get("pipedrive_url") or link.get("url")
    return given or record_url(api_domain, pipedrive_object, row.get("pipedrive_id") or link.get("id"))


async def list_audience(request: web.Request) -> web.Response:
    """One page of a collection, searched and filtered."""
    collection = request.match_info["collection"]
    if collection not in COLLECTIONS:
        raise PageRefused(404, "Page not found", "Audiences are accounts, contacts or opportunities.")
    label, pipedrive_object = COLLECTIONS[collection]
    q, deleted = request.query.get("q", "").strip(), request.query.get("deleted", "")
    params = {"limit": str(PAGE_SIZE)}
    if q:
        params["q"] = q
    if deleted in ("true", "false"):
        params["deleted_in_crm"] = deleted
    if request.query.get("cursor"):
        params["cursor"] = request.query["cursor"]
    api = api_of(request)
    answer, connection = await asyncio.gather(
        api.get("mapper", f"/v1/{collection}", params), api.get_ok("connector", "/v1/connection")
    )
    if answer.status == 400:
        words = plain_problems(answer.problems, answer.message, {"q": "Search"})
        raise PageRefused(400, "That search can't be used", words)
    if not answer.ok:
        raise ServiceFailed("mapper", answer)
    domain = connection.get("api_domain")
    rows = [
        {**r, "url": _pipedrive_url(r, domain, pipedrive_object), "link_known": bool(LINK_KEYS & r.keys())}
        for r in answer.body["data"]
    ]
    context = {
        "title": f"Audiences · {label}",
        "section": "audiences",
        "collection": collection,
        "collections": COLLECTIONS,
        "rows": rows,
        "q": q,
        "deleted": deleted,
        "next_cursor": answer.body.get("next_cursor"),
    }
    template = "fragments/audience_rows.html" if is_htmx(request) else "audiences.html"
    return await render(request, template, context)


def add_audience_routes(app: web.Application) -> None:
    """Mount the audiences."""
    app.router.add_get("/audiences/{collection}", list_audience)
