"""`tenant_rules`: what planning reads of a tenant's settings per object, worked out once per batch,
gives what the per-change reading gave."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.planning import source_fields, tenant_rules
from schemas.events.common import SyncObject
from schemas.events.settings import DirectionSwitches, FieldMapping, FieldMode, ObjectSettings, TenantSettings
from sync_rules.mapping_resolution import effective_mappings, object_switches

CODE = "ab" * 20
CONFIGURED = TenantSettings(
    version=2,
    objects={
        SyncObject.PERSON: ObjectSettings(
            directions=DirectionSwitches(create_in_abm=True),
            fields=(
                FieldMapping(abm_field="email", pipedrive_field="emails"),
                FieldMapping(abm_field="phone", pipedrive_field="phones", to_abm=FieldMode.OVERWRITE),
                FieldMapping(abm_field="tier", pipedrive_field="Tier", custom=True, field_code=CODE),
                FieldMapping(abm_field="label", pipedrive_field="Label", custom=True),  # unresolved
                FieldMapping(abm_field="name", pipedrive_field="name", to_abm=FieldMode.DONT_SYNC),
            ),
        ),
        SyncObject.ORGANIZATION: ObjectSettings(
            fields=(FieldMapping(abm_field="address", pipedrive_field="address"),)
        ),
    },
)
RECORDS: list[dict[str, Any]] = [
    {},
    {"name": "Acme", "website": "acme.io", "address": {"value": "Main St 1"}, "owner_id": 3},
    {"address": {"formatted_address": "Elm 2"}, "add_time": "2026-01-01T00:00:00Z"},
    {"emails": [{"value": "a@x.io", "primary": False}, {"value": "b@x.io", "primary": True}]},
    {"phones": [{"value": " "}], "emails": "not a list", "custom_fields": {CODE: "gold"}},
    {"custom_fields": None, "title": "Deal", "value": 10, "org_id": 4, "person_id": None},
]


@pytest.mark.parametrize("settings", [None, CONFIGURED, TenantSettings(version=1, objects={})])
@pytest.mark.parametrize("obj", list(SyncObject))
def test_the_rules_are_what_planning_read_per_change(
    settings: TenantSettings | None, obj: SyncObject
) -> None:
    tenant = tenant_rules(settings)
    rules = tenant.objects[obj]
    mappings = effective_mappings(settings, obj)
    assert tenant.settings is settings
    assert rules.mappings == mappings
    assert rules.modes == {m.abm_field: m.modes.to_abm for m in mappings}
    assert rules.switches == object_switches(settings, obj)
    for record in RECORDS:
        assert rules.source_fields(record) == source_fields(record, mappings)
    assert tenant_rules(settings, [obj]).objects[obj] == rules  # the rules of the objects a batch changes
