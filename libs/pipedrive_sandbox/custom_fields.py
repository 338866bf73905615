"""Custom field values: checking what API v2 accepts, and the typed form webhooks v2 deliver."""

from __future__ import annotations

from datetime import date
from typing import Any

from pipedrive_sandbox.account import FieldDefinition
from pipedrive_sandbox.errors import InvalidRequest


def check_custom_fields(values: object, definitions: dict[str, FieldDefinition]) -> dict[str, Any]:
    """Validate a `custom_fields` request object against the entity's definitions; return it as stored."""
    if not isinstance(values, dict):
        raise InvalidRequest("custom_fields must be an object")
    checked: dict[str, Any] = {}
    for code, value in values.items():
        definition = definitions.get(code)
        if definition is None:
            raise InvalidRequest(f"Unknown custom field: {code}")
        checked[code] = None if value is None else _check_value(definition, value)
    return checked


def _check_value(definition: FieldDefinition, value: Any) -> Any:
    kind = definition.field_type
    if kind in ("varchar", "text", "varchar_auto", "phone") and isinstance(value, str):
        return value
    if kind == "double" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "enum" and isinstance(value, int) and value in definition.option_ids():
        return value
    if kind == "set" and isinstance(value, list) and set(value) <= definition.option_ids():
        return value
    if kind == "date" and isinstance(value, str) and _is_date(value):
        return value
    if kind == "monetary" and isinstance(value, dict) and isinstance(value.get("value"), int | float):
        return {"value": value["value"], "currency": str(value.get("currency", "EUR"))}
    raise InvalidRequest(f"Invalid value for custom field {definition.field_name} ({kind})")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def typed_custom_fields(values: dict[str, Any], definitions: dict[str, FieldDefinition]) -> dict[str, Any]:
    """The webhook v2 form of custom field values: objects carrying their `type`."""
    typed: dict[str, Any] = {}
    for code, value in values.items():
        definition = definitions.get(code)
        if value is None or definition is None:
            typed[code] = None
            continue
        typed[code] = typed_value(definition.field_type, value)
    return typed


def typed_value(kind: str, value: Any) -> dict[str, Any]:
    """One custom field value as webhooks v2 send it (see webhook_v2_examples.json)."""
    if kind == "enum":
        return {"id": value, "type": kind}
    if kind == "set":
        return {"values": [{"id": item} for item in value], "type": kind}
    if kind == "monetary":
        return {"currency": value["currency"], "type": kind, "value": value["value"]}
    if kind in ("people", "org", "user"):
        return {"id": value, "type": kind}
    return {"type": kind, "value": value}
