"""The mapper's HTTP API: the ABM store's accounts, contacts and opportunities, per tenant.

    GET /v1/{accounts|contacts|opportunities}?limit=&cursor=&q=&deleted_in_crm=&ids=
    GET /v1/{accounts|contacts|opportunities}/{abm_id}

Each record carries its Pipedrive link (`pipedrive`: the id, a URL to the record in the company's
Pipedrive web app, whether Pipedrive deleted it, and the record a merge folded into the linked one) and,
for accounts, the normalized `domain` next to the raw `website`.

Every call is authenticated by the tenant middleware and reads only the caller's tenant. Lists use keyset
pagination on the ABM id: `next_cursor` (opaque; one this API did not return is a 400) is null on the
last page.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic_core import PydanticCustomError

from mapper.abm_store import TABLES
from mapper.audience_store import AudienceStore, RecordFilter
from mapper.ports import TenantSettingsSource
from schemas.events.common import SyncObject
from service_runtime.http_errors import json_error
from service_runtime.http_inputs import read_query
from tenant_auth.middleware import tenant_of

COLLECTIONS = {table: obj for obj, table in TABLES.items()}
MAX_IDS = 100


class CollectionPath(BaseModel):
    """The path parameter naming a collection (any other name is a 404)."""

    collection: str = Field(json_schema_extra={"enum": list[JsonValue](sorted(COLLECTIONS))})


STORE = web.AppKey("audience_store", AudienceStore)
REPLICA = web.AppKey("settings_replica", TenantSettingsSource)


class ListQuery(BaseModel):
    """The query string of a list call."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, min_length=1, max_length=200)
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="match key or name contains"
    )
    deleted_in_crm: bool | None = None
    ids: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_IDS * 201,
        description=f"comma-separated ABM ids (at most {MAX_IDS}): only those records",
    )

    @field_validator("cursor")
    @classmethod
    def _position(cls, value: str | None) -> str | None:
        try:
            return abm_id_after(value) if value is not None else None
        except ValueError as failure:
            raise PydanticCustomError("not_a_cursor", str(failure)) from failure

    @field_validator("ids")
    @classmethod
    def _at_most_max_ids(cls, value: str | None) -> str | None:
        if value is not None and (len(value.split(",")) > MAX_IDS or "" in value.split(",")):
            raise ValueError(f"at most {MAX_IDS} ABM ids, comma-separated")
        return value

    @property
    def id_list(self) -> list[str] | None:
        """The ids asked for, or None for every record."""
        return self.ids.split(",") if self.ids is not None else None


def cursor_after(abm_id: str) -> str:
    """The opaque cursor of the page after the record `abm_id`."""
    return base64.urlsafe_b64encode(orjson.dumps([abm_id])).decode()


def abm_id_after(cursor: str) -> str:
    """The ABM id a cursor of `cursor_after` stands for; ValueError for anything else (a tampered one)."""
    try:
        [abm_id] = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(abm_id, str) and abm_id and "\x00" not in abm_id:
            return abm_id
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError):
        pass
    raise ValueError("not a cursor this API returned")


def _collection(request: web.Request) -> tuple[str, SyncObject]:
    name = request.match_info["collection"]
    if name not in COLLECTIONS:
        raise json_error(404, "not_found", f"No collection {name}: use accounts, contacts or opportunities.")
    return name, COLLECTIONS[name]


def pipedrive_link(
    obj: SyncObject, link_id: int | None, deleted: bool, merged_into: int | None, web_url: str | None
) -> dict[str, Any] | None:
    """A record's Pipedrive link as the API shows it: a merged-away record's link names the survivor."""
    if link_id is None:
        return None
    shown = merged_into or link_id
    url = f"{web_url.rstrip('/')}/{obj.value}/{shown}" if web_url else None
    return {
        "id": shown,
        "url": url,
        "deleted": deleted and merged_into is None,
        "merged_from_id": link_id if merged_into else None,
    }


def _row(record: dict[str, Any], obj: SyncObject, web_url: str | None) -> dict[str, Any]:
    row = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items()}
    link = (row.pop("link_id"), bool(row.pop("link_deleted")), row.pop("link_merged_into"))
    row["pipedrive"] = pipedrive_link(obj, *link, web_url=web_url)
    if obj is SyncObject.ORGANIZATION:
        row["domain"], row["website"] = row["match_key"], row["fields"].get("website")
    return row


async def _web_url(request: web.Request) -> str | None:
    settings = await request.app[REPLICA].get(tenant_of(request))
    return settings.pipedrive_web_url if settings is not None else None


async def list_records(request: web.Request) -> web.Response:
    """One page of a collection, filtered."""
    _, obj = _collection(request)
    query = read_query(request, ListQuery)
    wanted = RecordFilter(query.limit + 1, query.cursor, query.q, query.deleted_in_crm, query.id_list)
    rows = await request.app[STORE].records(tenant_of(request), obj, wanted)
    web_url = await _web_url(request)
    page = [_row(r, obj, web_url) for r in rows[: query.limit]]
    next_cursor = cursor_after(page[-1]["abm_id"]) if len(rows) > query.limit else None
    return web.json_response({"data": page, "next_cursor": next_cursor})


async def get_record(request: web.Request) -> web.Response:
    """One record of the caller's tenant, or 404."""
    _, obj = _collection(request)
    row = await request.app[STORE].record(tenant_of(request), obj, request.match_info["abm_id"])
    if row is None:
        raise json_error(404, "not_found", f"No such {obj.value} for this tenant.")
    return web.json_response({"data": _row(row, obj, await _web_url(request))})


def add_audience_routes(app: web.Application, store: AudienceStore, settings: TenantSettingsSource) -> None:
    """Mount the API on the service's application."""
    app[STORE] = store
    app[REPLICA] = settings
    app.router.add_get("/v1/{collection}", list_records)
    app.router.add_get("/v1/{collection}/{abm_id}", get_record)
