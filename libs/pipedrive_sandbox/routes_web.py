"""The web app's record pages, `/organization/<id>`, `/person/<id>` and `/deal/<id>`: where the console's
"Open in Pipedrive" links lead (the sandbox's web app address is its own). Pipedrive's own pages are its
web application; these stand in for them with a minimal HTML page of the record's fields, by their labels.
Not API calls: no credentials, no tokens spent, nothing in the ledger."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from pipedrive_sandbox.account import Account, FieldDefinition, Pipeline, Stage, User
from pipedrive_sandbox.app_keys import state_of
from pipedrive_sandbox.store import Entity, EntityTable, Record

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Pipedrive sandbox</title></head>
<body><p>Pipedrive sandbox · {kind}</p>
<h1>{title}</h1>
{body}
</body></html>"""
_LINKED = {"org_id": Entity.ORGANIZATION, "person_id": Entity.PERSON}


async def record_page(request: web.Request) -> web.Response:
    """The record's page, or a 404 page when the company has no such record."""
    state = state_of(request)
    entity = Entity(request.match_info["entity"])
    record = state.tables[entity].get(int(request.match_info["id"]))
    kind = entity.value.capitalize()
    if record is None:
        return _page(kind, "Not found", "<p>This item does not exist.</p>", status=404)
    deleted = "<p><strong>This item has been deleted.</strong></p>" if record.deleted_ts is not None else ""
    rows = "".join(
        f"<tr><th scope='row'>{html.escape(field.field_name)}</th><td>{shown}</td></tr>"
        for field in state.account.fields.get(entity, [])
        if (shown := _shown(state.account, state.tables, field, _value(record, field)))
    )
    return _page(kind, _title(record), f"{deleted}<table>{rows}</table>")


def _page(kind: str, title: str, body: str, status: int = 200) -> web.Response:
    text = _PAGE.format(kind=html.escape(kind), title=html.escape(title), body=body)
    return web.Response(text=text, content_type="text/html", status=status)


def _title(record: Record) -> str:
    return str(record.data.get("name") or record.data.get("title") or f"#{record.id}")


def _value(record: Record, field: FieldDefinition) -> Any:
    if field.is_custom_field:
        return (record.data.get("custom_fields") or {}).get(field.field_code)
    return record.data.get(field.field_code)


def _shown(account: Account, tables: dict[Entity, EntityTable], field: FieldDefinition, value: Any) -> str:
    """The value as the page shows it (HTML), or "" when the record has none."""
    if value is None or value == "" or value == []:
        return ""
    code = field.field_code
    named: dict[str, Mapping[int, User | Stage | Pipeline]] = {
        "owner_id": account.users,
        "stage_id": account.stages,
        "pipeline_id": account.pipelines,
    }
    if code in named and isinstance(value, int) and value in named[code]:
        return html.escape(named[code][value].name)
    if code in _LINKED and isinstance(value, int):
        linked = tables[_LINKED[code]].get(value)
        name = _title(linked) if linked is not None else f"#{value}"
        return f"<a href='/{_LINKED[code].value}/{int(value)}'>{html.escape(name)}</a>"
    options = {str(o["id"]): str(o["label"]) for o in field.options or []}
    values = value if isinstance(value, list) else [value]
    return html.escape(", ".join(_one(v, options) for v in values))


def _one(value: Any, options: dict[str, str]) -> str:
    if isinstance(value, dict):  # an address, a monetary amount, an email or phone entry
        return " ".join(str(value[k]) for k in ("value", "currency") if value.get(k) is not None)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return options.get(str(value), str(value))


def add_web_routes(app: web.Application) -> None:
    """Mount the record pages."""
    app.router.add_get(r"/{entity:organization|person|deal}/{id:\d+}", record_page)
