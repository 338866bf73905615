"""Shapes of Pipedrive answers the client relies on; unknown attributes are kept (`extra="allow"`).

Only what callers depend on is typed; anything else Pipedrive adds passes through untouched, so a new
attribute never breaks a sync while a wrong type for a relied-on one is caught as `UnexpectedResponse`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PipedriveModel(BaseModel):
    """Base of answer models: extra attributes allowed, values as Pipedrive sent them."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Record(PipedriveModel):
    """Attributes every v2 organization, person and deal carries."""

    id: int
    owner_id: int | None = None
    add_time: datetime | None = None
    update_time: datetime | None = None
    is_deleted: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Organization(Record):
    """A v2 organization."""

    name: str
    address: dict[str, Any] | None = None
    website: str | None = None


class ContactValue(PipedriveModel):
    """An email or phone entry of a person."""

    value: str
    primary: bool = False
    label: str | None = None


class Person(Record):
    """A v2 person."""

    name: str
    org_id: int | None = None
    emails: list[ContactValue] = Field(default_factory=list)
    phones: list[ContactValue] = Field(default_factory=list)


class Deal(Record):
    """A v2 deal."""

    title: str
    value: float | None = None
    currency: str | None = None
    status: str | None = None
    stage_id: int | None = None
    pipeline_id: int | None = None
    org_id: int | None = None
    person_id: int | None = None
    expected_close_date: str | None = None


class DeletedRecord(PipedriveModel):
    """The answer to a delete: the id of the record deleted."""

    id: int


class FieldDefinition(PipedriveModel):
    """A v2 field definition; `field_code` is the key under `custom_fields` for custom fields."""

    field_code: str
    field_name: str
    field_type: str
    is_custom_field: bool = False
    options: list[dict[str, Any]] | None = None


class User(PipedriveModel):
    """A v1 user."""

    id: int
    name: str
    email: str | None = None
    active_flag: bool = True
    is_you: bool = False


class CurrentUser(User):
    """`/v1/users/me`: the caller, with the company it belongs to."""

    company_id: int
    company_name: str | None = None
    company_domain: str | None = None


class Pipeline(PipedriveModel):
    """A v2 pipeline."""

    id: int
    name: str
    order_nr: int | None = None
    is_deleted: bool = False


class Stage(PipedriveModel):
    """A v2 stage."""

    id: int
    name: str
    pipeline_id: int
    order_nr: int | None = None
    is_deleted: bool = False


class SearchHit(PipedriveModel):
    """One v2 search result: the matched item (id plus what search returns) and its score."""

    result_score: float | None = None
    item: dict[str, Any]

    @property
    def id(self) -> int:
        """The id of the matched record."""
        return int(self.item["id"])


class SearchResult(PipedriveModel):
    """The `data` of a v2 search answer."""

    items: list[SearchHit]


class Webhook(PipedriveModel):
    """A v1 webhook."""

    id: int
    subscription_url: str
    event_action: str
    event_object: str
    version: str | None = None
    is_active: int | bool | None = None


class MergeResult(PipedriveModel):
    """The answer to a v1 merge: the surviving record's id."""

    id: int
