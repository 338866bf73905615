"""A tenant's effective mappings and switches per object: what both directions apply, from one place.

A tenant that configured no fields for an object gets the seed defaults (:data:`DEFAULT_MAPPINGS`); a
configured custom field counts once its label is resolved to the account's field code. The mapper (into
ABM), the pusher (into Pipedrive) and the connector's settings API (which shows them) all ask here.
"""

from collections.abc import Mapping
from typing import Any

from schemas.events.common import SyncObject
from schemas.events.settings import INTO_ABM, DirectionSwitches, TenantSettings
from schemas.events.settings import FieldMapping as ConfiguredMapping
from sync_rules.field_modes import FieldModes
from sync_rules.mappings import FieldMapping, default_mappings
from sync_rules.match_keys import pipedrive_match_key


def object_switches(settings: TenantSettings | None, obj: SyncObject) -> DirectionSwitches:
    """The tenant's switches for an object (a tenant without settings imports into ABM and writes
    nothing to Pipedrive)."""
    if settings is None or obj not in settings.objects:
        return INTO_ABM
    return settings.objects[obj].directions


def configured_fields(settings: TenantSettings | None, obj: SyncObject) -> tuple[ConfiguredMapping, ...]:
    """The fields the tenant configured for an object (empty: it uses the defaults)."""
    if settings is None or obj not in settings.objects:
        return ()
    return settings.objects[obj].fields


def effective_mappings(settings: TenantSettings | None, obj: SyncObject) -> tuple[FieldMapping, ...]:
    """The object's mapped fields: the tenant's (custom ones once resolved), or the seed defaults."""
    configured = configured_fields(settings, obj)
    if not configured:
        return default_mappings(obj)
    return tuple(_resolved(m) for m in configured if not m.custom or m.field_code is not None)


def push_mappings(settings: TenantSettings | None, obj: SyncObject) -> tuple[FieldMapping, ...]:
    """The object's mapped fields: the tenant's (custom fields once resolved), or the seed defaults.

    An organization's website goes to the tenant's configured domain custom field when there is one.
    """
    mappings = effective_mappings(settings, obj)
    domain_code = settings.organization_domain.custom_field_code if settings else None
    if obj is SyncObject.ORGANIZATION and domain_code:
        mappings = tuple(
            FieldMapping(m.abm_field, domain_code, m.modes, custom=True)
            if m.pipedrive_key == "website"
            else m
            for m in mappings
        )
    return mappings


def keeps_subdomains(settings: TenantSettings | None) -> bool:
    """Whether the tenant's organization match keys keep subdomains (`shop.example.com`): one option for
    Pipedrive's records, the ABM platform's signals and pushes alike."""
    return settings is not None and settings.organization_domain.keep_subdomains


def record_match_key(
    obj: SyncObject, record: Mapping[str, Any], settings: TenantSettings | None
) -> str | None:
    """A Pipedrive v2 record's match key under the tenant's domain settings (its domain custom field and
    whether subdomains count); None when it has no usable key."""
    domain = settings.organization_domain if settings is not None else None
    return pipedrive_match_key(
        obj,
        record,
        domain_field_code=domain.custom_field_code if domain is not None else None,
        keep_subdomains=keeps_subdomains(settings),
    )


def effective_field_settings(
    settings: TenantSettings | None, obj: SyncObject
) -> tuple[ConfiguredMapping, ...]:
    """The object's mapped fields as settings show them: the tenant's, or the defaults spelled out."""
    configured = configured_fields(settings, obj)
    if configured:
        return configured
    return tuple(
        ConfiguredMapping(
            abm_field=m.abm_field,
            pipedrive_field=m.pipedrive_key,
            custom=m.custom,
            to_pipedrive=m.modes.to_pipedrive,
            to_abm=m.modes.to_abm,
        )
        for m in default_mappings(obj)
    )


def _resolved(mapping: ConfiguredMapping) -> FieldMapping:
    key = mapping.field_code if mapping.custom and mapping.field_code else mapping.pipedrive_field
    return FieldMapping(
        mapping.abm_field, key, FieldModes(mapping.to_pipedrive, mapping.to_abm), custom=mapping.custom
    )
