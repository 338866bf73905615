"""Which ABM fields fit which Pipedrive field types (the settings check's `to_pipedrive` rule)."""

import pytest

from connector.catalog import ENTITIES
from pipedrive_client.writable_fields import is_writable
from pipedrive_sandbox.seed import NATIVE_FIELDS
from pipedrive_sandbox.store import Entity
from schemas.events.settings import DirectionSwitches, FieldMode
from schemas.events.settings import FieldMapping as ConfiguredMapping
from sync_rules.field_types import ABM_FIELD_KINDS, type_mismatch
from sync_rules.mapping_checks import mapping_problems
from sync_rules.mappings import ABM_FIELDS, FieldDefinition, default_mappings
from sync_rules.objects import SyncObject

BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)


def _built_in(obj: SyncObject) -> list[FieldDefinition]:
    """The built-in fields the sandbox (checked against Pipedrive's spec) lists, as the catalog keeps them."""
    entity = ENTITIES[obj]
    return [
        FieldDefinition(
            code, label, False, kind, writable=is_writable(entity, code, is_custom=False, field_type=kind)
        )
        for code, label, kind in NATIVE_FIELDS[Entity(entity)]
    ]


def test_every_abm_field_a_mapping_may_name_has_a_kind() -> None:
    assert {obj: frozenset(kinds) for obj, kinds in ABM_FIELD_KINDS.items()} == dict(ABM_FIELDS)


@pytest.mark.parametrize("obj", list(SyncObject))
def test_the_default_mappings_written_into_pipedrive_fit_their_fields(obj: SyncObject) -> None:
    for index, default in enumerate(default_mappings(obj)):
        into_pipedrive = ConfiguredMapping(
            abm_field=default.abm_field,
            pipedrive_field=default.pipedrive_key,
            to_pipedrive=FieldMode.OVERWRITE,
        )
        problems = mapping_problems(obj, index, into_pipedrive, BOTH_WAYS, _built_in(obj))
        assert all("read-only" in p.problem for p in problems), problems


def test_free_text_into_an_option_or_number_field_is_refused_and_numbers_into_numbers_are_not() -> None:
    org = SyncObject.ORGANIZATION
    assert type_mismatch(org, "address", "Visible to", "visible_to") is not None
    assert type_mismatch(org, "industry", "Industry", "enum") is not None
    assert type_mismatch(org, "name", "Revenue", "monetary") is not None
    assert type_mismatch(org, "engagement_score", "ABM score", "double") is None
    assert type_mismatch(org, "annual_revenue", "Annual revenue", "monetary") is None


def test_a_pipedrive_type_whose_values_are_not_known_is_not_refused() -> None:
    assert type_mismatch(SyncObject.ORGANIZATION, "name", "Flag", "boolean") is None
