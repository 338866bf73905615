"""The sync settings API: `GET` shows the effective settings (each object's mapped fields, the defaults
spelled out where the tenant configured none: the same the mapper and the pusher apply), `PUT` replaces
them, `PATCH` changes only what a JSON merge patch (RFC 7396) names. Every change is checked against the
rule book and the connected account's catalog (400 naming each problem, nothing saved), saved as the next
version and published; and webhooks on/off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from connector.api_support import (
    json_error,
    pipedrive_failure,
    read_body,
    require_connected,
    validation_problems,
)
from connector.catalog import Catalog, Catalogs
from connector.settings_input import SettingsInput, WebhooksInput, input_of
from connector.settings_resolution import Definitions, SettingsRefused, missing_in, needs_definitions, resolve
from connector.settings_store import SettingsStore
from connector.webhook_registration import WebhookRegistration
from pipedrive_client import PipedriveClientFactory, PipedriveError
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from service_runtime.http_errors import bad_request
from service_runtime.merge_patch import merge_patch
from sync_rules.mapping_resolution import configured_fields, effective_field_settings
from tenant_auth.middleware import tenant_of

MakeInput = Callable[[TenantSettings], SettingsInput]


@dataclass(frozen=True)
class SettingsApi:
    """What the settings API uses: the tenants' settings and catalogs, their credentials (connected or
    not), their webhooks, and the scheduler's wake-up when a schedule changes."""

    tenant_settings: SettingsStore
    catalogs: Catalogs
    factory: PipedriveClientFactory
    webhooks: WebhookRegistration
    work_available: asyncio.Event


API = web.AppKey("settings_api", SettingsApi)


def shown(settings: TenantSettings) -> dict[str, Any]:
    """The settings as the API shows them: each object's effective mapped fields, and whether they are
    the defaults (`default_fields`)."""
    body = settings.model_dump(mode="json")
    for obj in SyncObject:
        if obj.value in body["objects"]:
            entry = body["objects"][obj.value]
            entry["fields"] = [m.model_dump(mode="json") for m in effective_field_settings(settings, obj)]
            entry["default_fields"] = not configured_fields(settings, obj)
    return body


async def _definitions(
    api: SettingsApi, tenant: str, wanted: SettingsInput, current: TenantSettings
) -> Definitions | None:
    """The account's field definitions when the settings name fields not saved before (409 without a
    connection); the catalog is read again when it lacks one of them."""
    if not needs_definitions(wanted, current):
        return None
    await require_connected(api.factory, tenant)

    def complete(catalog: Catalog) -> bool:
        return not missing_in(wanted, current, {o: catalog.definitions(o) for o in SyncObject})

    try:
        catalog = await api.catalogs.current(tenant, has=complete)
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure
    return {obj: catalog.definitions(obj) for obj in SyncObject}


async def _save(api: SettingsApi, tenant: str, make_input: MakeInput) -> TenantSettings:
    """Check and save the settings `make_input` gives for the current ones (made again under the row lock,
    so a concurrent change is merged, not lost); nothing is saved when a problem is found."""
    before = await api.tenant_settings.current_or_default(tenant)
    definitions = await _definitions(api, tenant, make_input(before), before)

    def change(current: TenantSettings) -> TenantSettings:
        return current.model_copy(update=resolve(make_input(current), current, definitions))

    try:
        saved = await api.tenant_settings.change(tenant, change)
    except SettingsRefused as refused:
        raise bad_request([str(p) for p in refused.problems]) from refused
    except _Invalid as invalid:
        raise bad_request(invalid.problems) from invalid
    api.work_available.set()
    return saved


class _Invalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _patched(patch: dict[str, Any]) -> MakeInput:
    def make(current: TenantSettings) -> SettingsInput:
        try:
            return SettingsInput.model_validate(merge_patch(input_of(current), patch))
        except ValidationError as failure:
            raise _Invalid(validation_problems(failure)) from failure

    return make


async def get_settings(request: web.Request) -> web.Response:
    """The tenant's effective settings (version 0: never saved, the defaults)."""
    settings = await request.app[API].tenant_settings.current_or_default(tenant_of(request))
    return web.json_response(shown(settings))


async def put_settings(request: web.Request) -> web.Response:
    """Replace the settings (objects left out get the defaults); saved as the next version and published."""
    api, tenant = request.app[API], tenant_of(request)
    wanted = await read_body(request, SettingsInput)
    saved = await _save(api, tenant, lambda _current: wanted)
    return web.json_response(shown(saved))


async def patch_settings(request: web.Request) -> web.Response:
    """Change only what the JSON merge patch names (a null removes a value: its default applies)."""
    api, tenant = request.app[API], tenant_of(request)
    try:
        patch = orjson.loads(await request.read() or b"null")
    except orjson.JSONDecodeError as failure:
        raise json_error(400, "bad_request", "The body is not valid JSON.") from failure
    if not isinstance(patch, dict):
        raise json_error(400, "bad_request", "A settings merge patch is a JSON object.")
    make = _patched(patch)
    try:
        make(await api.tenant_settings.current_or_default(tenant))
    except _Invalid as invalid:
        raise bad_request(invalid.problems) from invalid
    saved = await _save(api, tenant, make)
    return web.json_response(shown(saved))


async def put_webhooks(request: web.Request) -> web.Response:
    """Turn near-real-time webhooks on (registered in Pipedrive) or off (removed)."""
    api, tenant = request.app[API], tenant_of(request)
    wanted = await read_body(request, WebhooksInput)
    current = await api.tenant_settings.current(tenant)
    if wanted.enabled and (current is None or not current.connected):
        raise json_error(409, "not_connected", "Connect Pipedrive before turning webhooks on.")
    try:
        if wanted.enabled:
            await api.webhooks.register(tenant)
        else:
            await api.webhooks.unregister(tenant)
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure

    def change(settings: TenantSettings) -> TenantSettings:
        return settings.model_copy(update={"webhooks_enabled": wanted.enabled})

    saved = await api.tenant_settings.change(tenant, change)
    return web.json_response(shown(saved))


def add_settings_routes(app: web.Application, api: SettingsApi) -> None:
    """Mount the settings API."""
    app[API] = api
    app.router.add_get("/v1/settings", get_settings)
    app.router.add_put("/v1/settings", put_settings)
    app.router.add_patch("/v1/settings", patch_settings)
    app.router.add_put("/v1/webhooks", put_webhooks)
