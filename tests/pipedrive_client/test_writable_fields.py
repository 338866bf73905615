"""What the client calls writable is what Pipedrive's v2 update operations accept."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from pipedrive_client.account import FieldEntity
from pipedrive_client.writable_fields import WRITABLE_BUILT_IN_FIELDS, is_writable
from tests.sandbox.spec_check import Specs


def _properties(schema: dict[str, Any]) -> set[str]:
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found |= _properties(part)
    return found


@pytest.mark.parametrize("entity", get_args(FieldEntity))
def test_writable_built_in_fields_are_those_the_v2_update_accepts(specs: Specs, entity: FieldEntity) -> None:
    update = specs.operation("v2", "PATCH", f"/{entity}s/{{id}}")
    body = update["requestBody"]["content"]["application/json"]["schema"]

    assert WRITABLE_BUILT_IN_FIELDS[entity] == _properties(body) - {"custom_fields"}


def test_ids_and_timestamps_are_read_only_and_custom_fields_writable() -> None:
    assert not is_writable("organization", "add_time", is_custom=False, field_type="date")
    assert not is_writable("deal", "id", is_custom=False, field_type="int")
    assert is_writable("deal", "stage_id", is_custom=False, field_type="stage")
    assert is_writable("person", "a" * 40, is_custom=True, field_type="varchar")
