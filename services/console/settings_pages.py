"""Sync settings: one tab per object (directions and create/update switches, the field mapping table of
Pipedrive's real fields with Don't sync / Fill / Overwrite per direction, the domain field), and a tab for
the schedule and auto-push. Saved through the connector, which validates: a refused change is shown next
to its field and nothing is saved."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from console.deps import api_of
from console.form_numbers import whole_number
from console.pipedrive_field_names import built_in_field_name
from console.problem_words import split_problem
from console.rendering import PageRefused, redirect_with_notice, render
from console.service_api import ServiceFailed, TenantApi
from sync_rules.mappings import ABM_FIELDS
from sync_rules.objects import SyncObject

OBJECTS = {
    "organization": ("Organizations → Accounts", SyncObject.ORGANIZATION),
    "person": ("Persons → Contacts", SyncObject.PERSON),
    "deal": ("Deals → Opportunities", SyncObject.DEAL),
}
SWITCHES = ("create_in_pipedrive", "update_in_pipedrive", "create_in_abm", "update_in_abm")
MODES = {"dont_sync": "Don't sync", "fill": "Fill", "overwrite": "Overwrite"}
FREQUENCIES = {"manual": "Manual only", "24h": "Every 24 hours", "6h": "Every 6 hours", "1h": "Every hour"}


def direction_summary(switches: dict[str, bool]) -> str:
    """The console's name of an object's four switches."""
    into_pipedrive = switches.get("create_in_pipedrive") or switches.get("update_in_pipedrive")
    into_abm = switches.get("create_in_abm") or switches.get("update_in_abm")
    if into_pipedrive and into_abm:
        return "Sync both ways"
    return "Sync into Pipedrive" if into_pipedrive else "Sync into ABM" if into_abm else "Not syncing"


def _mappings(settings: dict[str, Any], obj: str) -> list[dict[str, Any]]:
    """The object's effective mappings (the connector spells out the defaults while none are saved)."""
    return list(settings.get("objects", {}).get(obj, {}).get("fields") or [])


def _rows(
    obj: str, catalog_fields: list[dict[str, Any]], mappings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per Pipedrive field, with its mapping (if any); mapped fields first. A mapped field the
    catalog does not list (none is, Pipedrive not connected) is named as Pipedrive names it."""
    rows: list[dict[str, Any]] = []
    for field in catalog_fields:
        mapping = next(
            (
                m
                for m in mappings
                if (m.get("field_code") or m["pipedrive_field"]) == field["code"]
                or (
                    field["custom"]
                    and m.get("custom")
                    and m["pipedrive_field"].lower() == field["label"].lower()
                )
            ),
            None,
        )
        rows.append({"field": field, "mapping": mapping})
    known = {r["field"]["code"] for r in rows}
    orphans = [
        m
        for m in mappings
        if (m.get("field_code") or m["pipedrive_field"]) not in known and not m.get("custom")
    ]
    rows += [
        {
            "field": {
                "code": m["pipedrive_field"],
                "label": built_in_field_name(obj, m["pipedrive_field"]),
                "custom": False,
                "writable": True,
                "type": "",
            },
            "mapping": m,
        }
        for m in orphans
    ]
    return sorted(rows, key=lambda r: (r["mapping"] is None, r["field"]["label"].lower()))


async def _context(api: TenantApi, tab: str) -> dict[str, Any]:
    settings, catalog_answer, runs = await asyncio.gather(
        api.get_ok("connector", "/v1/settings"),
        api.get("connector", "/v1/catalog"),
        api.get("auditlog", "/v1/runs", {"kind": "sync", "limit": "1"}),
    )
    catalog = catalog_answer.body if catalog_answer.ok else None
    context: dict[str, Any] = {
        "title": "Sync settings",
        "section": "settings",
        "tab": tab,
        "objects": OBJECTS,
        "settings": settings,
        "catalog": catalog,
        "modes": MODES,
        "frequencies": FREQUENCIES,
        "errors": {},
        "last_sync": (runs.body.get("data") or [None])[0] if runs.ok else None,
    }
    if tab in OBJECTS:
        fields = list((catalog or {}).get("fields", {}).get(tab, []))
        current = settings.get("objects", {}).get(tab, {})
        context.update(
            rows=_rows(tab, fields, _mappings(settings, tab)),
            abm_fields=sorted(ABM_FIELDS[OBJECTS[tab][1]]),
            default_fields=bool(current.get("default_fields")),
            directions=current.get("directions", {}),
            summary=direction_summary(current.get("directions", {})),
            text_custom_fields=[
                f for f in fields if f["custom"] and f["type"] in ("varchar", "text", "varchar_auto")
            ],
        )
    return context


def _tab(request: web.Request) -> str:
    tab = request.match_info["tab"]
    if tab not in (*OBJECTS, "schedule"):
        raise PageRefused(404, "Page not found", "Settings have a tab per object and one for the schedule.")
    return tab


async def show(request: web.Request) -> web.Response:
    """One tab of the settings."""
    tab = _tab(request)
    return await render(request, "settings.html", await _context(api_of(request), tab))


def _object_part(form: MultiMapping[Any], rows: int) -> dict[str, Any]:
    fields = []
    for i in range(rows):
        abm_field = str(form.get(f"abm_field_{i}", "")).strip()
        if not abm_field:
            continue
        custom = form.get(f"custom_{i}") == "true"
        fields.append(
            {
                "abm_field": abm_field,
                "pipedrive_field": str(form.get(f"label_{i}" if custom else f"code_{i}", "")),
                "custom": custom,
                "to_pipedrive": str(form.get(f"to_pipedrive_{i}", "dont_sync")),
                "to_abm": str(form.get(f"to_abm_{i}", "dont_sync")),
                "row": i,
            }
        )
    return {"directions": {s: form.get(s) == "on" for s in SWITCHES}, "fields": fields}


def _schedule_part(form: MultiMapping[Any], errors: dict[str, str]) -> dict[str, Any]:
    threshold = whole_number(form.get("score_threshold"))
    if threshold is None:
        errors["auto_push.score_threshold"] = "Enter a whole number of points from 1 to 100."
    return {
        "frequency": str(form.get("frequency", "manual")),
        "auto_push": {
            "enabled": form.get("auto_push_enabled") == "on",
            "score_threshold": threshold,
            "visited_pages_as_activity": form.get("visited_pages_as_activity") == "on",
        },
    }


def _field_errors(problems: list[str], row_of_index: dict[int, int]) -> dict[str, str]:
    """The connector's `path: problem` lines by form field (mapping rows by the table's row), each in the
    console's words."""
    errors: dict[str, str] = {}
    for line in problems:
        where, text = split_problem(line)
        path = where or "form"
        parts = path.split(".")
        if len(parts) >= 4 and parts[0] == "objects" and parts[2] == "fields" and parts[3].isdigit():
            row = row_of_index.get(int(parts[3]))
            path = f"{parts[4] if len(parts) > 4 else 'abm_field'}_{row}" if row is not None else "form"
        elif len(parts) >= 3 and parts[0] == "objects" and parts[2] == "directions":
            path = "directions"
        if not _shown_beside_a_field(path):  # a whole object's problem (a field mapped twice), say
            path = "form"
        errors[path] = f"{errors[path]} {text}" if path in errors else text
    return errors


_FIELDS_WITH_ERRORS = frozenset(
    {"directions", "frequency", "auto_push.score_threshold", "organization_domain.custom_field_label"}
)
_ROW_FIELDS_WITH_ERRORS = re.compile(r"(abm_field|pipedrive_field|to_pipedrive|to_abm)_\d+")


def _shown_beside_a_field(name: str) -> bool:
    """Whether the page shows an error of this name next to its field (else it is shown above the form)."""
    return name in _FIELDS_WITH_ERRORS or _ROW_FIELDS_WITH_ERRORS.fullmatch(name) is not None


def settings_patch(
    tab: str, form: MultiMapping[Any], errors: dict[str, str]
) -> tuple[dict[str, Any], dict[int, int]]:
    """The merge patch of one tab (only what the tab shows), and the table row of each mapping sent."""
    if tab not in OBJECTS:
        return _schedule_part(form, errors), {}
    # Each row sends several fields: a row count beyond the form's fields is not a table this page sent.
    part = _object_part(form, min(whole_number(form.get("rows")) or 0, len(form)))
    row_of_index = {i: f.pop("row") for i, f in enumerate(part["fields"])}
    patch: dict[str, Any] = {"objects": {tab: part}}
    if tab == "organization":
        label = str(form.get("domain_field", "")).strip()
        patch["organization_domain"] = {
            "custom_field_label": label or None,
            "keep_subdomains": form.get("keep_subdomains") == "on",
        }
    return patch, row_of_index


async def save(request: web.Request) -> web.Response:
    """Save one tab as a merge patch of what it shows (nothing is saved when the connector refuses)."""
    tab, api = _tab(request), api_of(request)
    form = await request.post()
    errors: dict[str, str] = {}
    patch, row_of_index = settings_patch(tab, form, errors)
    if not errors:
        answer = await api.send("connector", "PATCH", "/v1/settings", patch)
        if answer.ok:
            notice = "Settings saved. They apply to the next sync and push."
            return await redirect_with_notice(request, f"/settings/{tab}", notice)
        if answer.status not in (400, 409):
            raise ServiceFailed("connector", answer)
        errors = _field_errors(answer.problems or [answer.message], row_of_index)
    context = await _context(api, tab)
    context.update(errors=errors, submitted=form)
    return await render(request, "settings.html", context, status=400)


async def direction_fragment(request: web.Request) -> web.Response:
    """The name of the direction the tab's switches (as they are now ticked, not yet saved) make."""
    _tab(request)
    summary = direction_summary({s: request.query.get(s) == "on" for s in SWITCHES})
    return await render(request, "fragments/direction_summary.html", {"summary": summary})


async def first_tab(_request: web.Request) -> web.Response:
    """Settings open on organizations."""
    raise web.HTTPSeeOther("/settings/organization")


def add_settings_routes(app: web.Application) -> None:
    """Mount the settings."""
    app.router.add_get("/settings", first_tab)
    app.router.add_get("/settings/{tab}", show)
    app.router.add_get("/settings/{tab}/direction", direction_fragment)
    app.router.add_post("/settings/{tab}", save)
