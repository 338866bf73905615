"""The sync settings API: GET/PUT the whole settings (validated; custom field labels resolved to the
account's field codes; versioned; published), and webhooks on/off."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connector.api_support import ConnectorDeps, deps_of, json_error, read_body
from connector.webhook_registration import register_webhooks, unregister_webhooks
from pipedrive_client import PipedriveError
from pipedrive_client.account import FieldEntity
from schemas.events.common import SyncObject
from schemas.events.settings import (
    INTO_ABM,
    AutoPush,
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    Frequency,
    ObjectSettings,
    OrganizationDomainField,
    TenantSettings,
)
from sync_rules.mappings import (
    CustomFieldResolutionError,
    FieldDefinition,
    parse_field_definitions,
    resolve_custom_field_code,
)
from tenant_auth.middleware import tenant_of

_ENTITIES: dict[SyncObject, FieldEntity] = {
    SyncObject.ORGANIZATION: "organization",
    SyncObject.PERSON: "person",
    SyncObject.DEAL: "deal",
}


class FieldMappingInput(BaseModel):
    """One mapped field as the admin sends it: a native v2 key, or a custom field by its label."""

    model_config = ConfigDict(extra="forbid")

    abm_field: str = Field(min_length=1, max_length=100)
    pipedrive_field: str = Field(min_length=1, max_length=200)
    custom: bool = False
    to_pipedrive: FieldMode = FieldMode.DONT_SYNC
    to_abm: FieldMode = FieldMode.FILL


class ObjectSettingsInput(BaseModel):
    """Directions and field mappings of one object."""

    model_config = ConfigDict(extra="forbid")

    directions: DirectionSwitches = INTO_ABM
    fields: list[FieldMappingInput] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _one_mapping_per_abm_field(self) -> ObjectSettingsInput:
        names = [f.abm_field for f in self.fields]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"ABM field(s) mapped twice: {', '.join(doubled)}")
        return self


class DomainFieldInput(BaseModel):
    """Where organizations keep their domain: None for the native `website`, else a custom field label."""

    model_config = ConfigDict(extra="forbid")

    custom_field_label: str | None = Field(default=None, min_length=1, max_length=200)
    keep_subdomains: bool = False


class SettingsInput(BaseModel):
    """The body of `PUT /v1/settings`; objects left out keep the defaults."""

    model_config = ConfigDict(extra="forbid")

    objects: dict[SyncObject, ObjectSettingsInput] = Field(default_factory=dict)
    frequency: Frequency = Frequency.MANUAL
    auto_push: AutoPush = AutoPush()
    organization_domain: DomainFieldInput = DomainFieldInput()


class WebhooksInput(BaseModel):
    """The body of `PUT /v1/webhooks`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


async def resolve_settings(deps: ConnectorDeps, tenant: str, wanted: SettingsInput) -> dict[str, object]:
    """The settings fields with every custom label resolved to its 40-hex code (400 when one is unknown)."""
    needs_fields = wanted.organization_domain.custom_field_label is not None or any(
        f.custom for o in wanted.objects.values() for f in o.fields
    )
    definitions: dict[SyncObject, list[FieldDefinition]] = {}
    if needs_fields:
        client = deps.factory.for_tenant(tenant)
        try:
            for obj in SyncObject:
                found = await client.fields.list(_ENTITIES[obj])
                definitions[obj] = parse_field_definitions(d.model_dump() for d in found)
        except PipedriveError as failure:
            raise json_error(
                409, "not_connected", f"Custom fields need a working connection: {failure}"
            ) from failure
    try:
        objects = {
            obj: ObjectSettings(
                directions=spec.directions,
                fields=tuple(_mapping(m, definitions.get(obj, [])) for m in spec.fields),
            )
            for obj, spec in wanted.objects.items()
        }
        label = wanted.organization_domain.custom_field_label
        domain = OrganizationDomainField(
            custom_field_label=label,
            custom_field_code=resolve_custom_field_code(label, definitions[SyncObject.ORGANIZATION])
            if label
            else None,
            keep_subdomains=wanted.organization_domain.keep_subdomains,
        )
    except CustomFieldResolutionError as failure:
        raise json_error(400, "bad_request", str(failure)) from failure
    return {
        "objects": {**{o: ObjectSettings() for o in SyncObject}, **objects},
        "frequency": wanted.frequency,
        "auto_push": wanted.auto_push,
        "organization_domain": domain,
    }


def _mapping(spec: FieldMappingInput, definitions: list[FieldDefinition]) -> FieldMapping:
    code = resolve_custom_field_code(spec.pipedrive_field, definitions) if spec.custom else None
    return FieldMapping(
        abm_field=spec.abm_field,
        pipedrive_field=spec.pipedrive_field,
        custom=spec.custom,
        field_code=code,
        to_pipedrive=spec.to_pipedrive,
        to_abm=spec.to_abm,
    )


async def get_settings(request: web.Request) -> web.Response:
    """The tenant's current settings (version 0: never saved, the defaults)."""
    settings = await deps_of(request).tenant_settings.current_or_default(tenant_of(request))
    return web.json_response(settings.model_dump(mode="json"))


async def put_settings(request: web.Request) -> web.Response:
    """Replace the settings; saved as the next version and published."""
    deps, tenant = deps_of(request), tenant_of(request)
    wanted = await read_body(request, SettingsInput)
    update = await resolve_settings(deps, tenant, wanted)

    def change(current: TenantSettings) -> TenantSettings:
        return current.model_copy(update=update)

    saved = await deps.tenant_settings.change(tenant, change)
    deps.work_available.set()
    return web.json_response(saved.model_dump(mode="json"))


async def put_webhooks(request: web.Request) -> web.Response:
    """Turn near-real-time webhooks on (registered in Pipedrive) or off (removed)."""
    deps, tenant = deps_of(request), tenant_of(request)
    wanted = await read_body(request, WebhooksInput)
    current = await deps.tenant_settings.current(tenant)
    if wanted.enabled and (current is None or not current.connected):
        raise json_error(409, "not_connected", "Connect Pipedrive before turning webhooks on.")
    try:
        if wanted.enabled:
            await register_webhooks(deps, tenant)
        else:
            await unregister_webhooks(deps, tenant)
    except PipedriveError as failure:
        raise json_error(502, "pipedrive_failed", str(failure)) from failure

    def change(settings: TenantSettings) -> TenantSettings:
        return settings.model_copy(update={"webhooks_enabled": wanted.enabled})

    saved = await deps.tenant_settings.change(tenant, change)
    return web.json_response(saved.model_dump(mode="json"))


def add_settings_routes(app: web.Application) -> None:
    """Mount the settings API."""
    app.router.add_get("/v1/settings", get_settings)
    app.router.add_put("/v1/settings", put_settings)
    app.router.add_put("/v1/webhooks", put_webhooks)
