"""The company around the data: users (seats), pipelines with stages, and field definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipedrive_sandbox.store import Entity
from pipedrive_sandbox.timestamps import format_time, format_v1_time


@dataclass
class User:
    """A seat of the company; every user has an API token."""

    id: int
    name: str
    email: str
    api_token: str
    is_admin: bool
    created_ts: int

    def as_v1(self, company_id: int, me_id: int | None = None) -> dict[str, Any]:
        """The user in the v1 `/users` shape."""
        return {
            "id": self.id,
            "name": self.name,
            "default_currency": "EUR",
            "locale": "en_US",
            "lang": 1,
            "email": self.email,
            "phone": None,
            "activated": True,
            "last_login": format_v1_time(self.created_ts),
            "created": format_v1_time(self.created_ts),
            "modified": None,
            "has_created_company": self.is_admin,
            "access": [{"app": "sales", "admin": self.is_admin, "permission_set_id": f"ps-{company_id}"}],
            "active_flag": True,
            "timezone_name": "Europe/Berlin",
            "timezone_offset": "+01:00",
            "role_id": 1,
            "icon_url": None,
            "is_you": self.id == me_id,
            "is_deleted": False,
        }


@dataclass
class Pipeline:
    """A deal pipeline."""

    id: int
    name: str
    order_nr: int
    add_ts: int

    def as_v2(self) -> dict[str, Any]:
        """The pipeline in the v2 shape."""
        return {
            "id": self.id,
            "name": self.name,
            "order_nr": self.order_nr,
            "is_deleted": False,
            "is_deal_probability_enabled": False,
            "add_time": format_time(self.add_ts),
            "update_time": format_time(self.add_ts),
        }


@dataclass
class Stage:
    """A stage of a pipeline."""

    id: int
    pipeline_id: int
    name: str
    order_nr: int
    deal_probability: int
    add_ts: int

    def as_v2(self) -> dict[str, Any]:
        """The stage in the v2 shape."""
        return {
            "id": self.id,
            "order_nr": self.order_nr,
            "name": self.name,
            "is_deleted": False,
            "deal_probability": self.deal_probability,
            "pipeline_id": self.pipeline_id,
            "is_deal_rot_enabled": False,
            "days_to_rotten": None,
            "add_time": format_time(self.add_ts),
            "update_time": format_time(self.add_ts),
        }


V1_FIELD_TYPES = {"int": "double", "stage": "enum", "status": "enum"}
"""v2 field types the v1 fields API's published enum does not have, as v1 names them."""


@dataclass
class FieldDefinition:
    """A field of an entity: native (`field_code` is the attribute name) or custom (40-hex code)."""

    id: int
    entity: Entity
    field_code: str
    field_name: str
    field_type: str
    is_custom_field: bool
    add_ts: int
    options: list[dict[str, Any]] | None = None
    order_nr: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def option_ids(self) -> set[int]:
        """The ids of this field's options (enum and set fields)."""
        return {int(option["id"]) for option in self.options or []}

    def as_v2(self) -> dict[str, Any]:
        """The definition in the v2 `/api/v2/*Fields` shape."""
        return {
            "field_name": self.field_name,
            "field_code": self.field_code,
            "field_type": self.field_type,
            "options": self.options,
            "subfields": None,
            "is_custom_field": self.is_custom_field,
            "is_optional_response_field": False,
        }

    def as_v1(self) -> dict[str, Any]:
        """The definition in the v1 `/v1/*Fields` shape (`key` is the field code)."""
        return {
            "id": self.id,
            "key": self.field_code,
            "name": self.field_name,
            "order_nr": self.order_nr,
            "field_type": V1_FIELD_TYPES.get(self.field_type, self.field_type),
            "add_time": format_time(self.add_ts),
            "update_time": format_time(self.add_ts),
            "last_updated_by_user_id": None,
            "created_by_user_id": None,
            "active_flag": True,
            "edit_flag": self.is_custom_field,
            "index_visible_flag": True,
            "details_visible_flag": True,
            "add_visible_flag": True,
            "important_flag": False,
            "bulk_edit_allowed": True,
            "searchable_flag": self.field_type in ("varchar", "text"),
            "filtering_allowed": True,
            "sortable_flag": True,
            "mandatory_flag": self.field_code in ("name", "title"),
            "options": self.options,
        }


@dataclass
class Account:
    """Users, pipelines, stages and field definitions of the demo company."""

    users: dict[int, User] = field(default_factory=dict)
    pipelines: dict[int, Pipeline] = field(default_factory=dict)
    stages: dict[int, Stage] = field(default_factory=dict)
    fields: dict[Entity, list[FieldDefinition]] = field(default_factory=dict)
    next_field_id: int = 9000

    def custom_fields(self, entity: Entity) -> dict[str, FieldDefinition]:
        """The custom field definitions of an entity, by field code."""
        return {f.field_code: f for f in self.fields.get(entity, []) if f.is_custom_field}

    def custom_fields_by_type(self, entity: str) -> list[tuple[str, FieldDefinition]]:
        """The custom fields of an entity (given by name) as (field code, definition) pairs."""
        return list(self.custom_fields(Entity(entity)).items())

    def user_by_token(self, api_token: str) -> User | None:
        """The user owning this API token, if any."""
        for user in self.users.values():
            if user.api_token == api_token:
                return user
        return None
