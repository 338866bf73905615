"""The settings as the admin writes them: the body of `PUT /v1/settings` (a whole replacement) and the
document a `PATCH /v1/settings` merge patch applies to (`input_of` the current settings)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.common import SyncObject
from schemas.events.settings import (
    INTO_ABM,
    AutoPush,
    DirectionSwitches,
    FieldMode,
    Frequency,
    TenantSettings,
)


class FieldMappingInput(BaseModel):
    """One mapped field: an ABM field, and a Pipedrive field by its v2 key or label (custom fields by their
    label). `to_abm` left out means fill when the object syncs into ABM, else don't sync."""

    model_config = ConfigDict(extra="forbid")

    abm_field: str = Field(min_length=1, max_length=100)
    pipedrive_field: str = Field(min_length=1, max_length=200)
    custom: bool = False
    to_pipedrive: FieldMode = FieldMode.DONT_SYNC
    to_abm: FieldMode | None = None


class ObjectSettingsInput(BaseModel):
    """Directions and field mappings of one object (no fields: the defaults)."""

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
    """Where organizations keep their domain: None for the native `website`, else a custom field label (read
    first; a record whose custom field is empty is keyed by its native `website`)."""

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


def input_of(settings: TenantSettings) -> dict[str, Any]:
    """The saved settings as the document a merge patch changes (what a `PUT` of them would send)."""
    return {
        "objects": {
            obj.value: {
                "directions": spec.directions.model_dump(mode="json"),
                "fields": [
                    {
                        "abm_field": m.abm_field,
                        "pipedrive_field": m.pipedrive_field,
                        "custom": m.custom,
                        "to_pipedrive": m.to_pipedrive.value,
                        "to_abm": m.to_abm.value,
                    }
                    for m in spec.fields
                ],
            }
            for obj, spec in settings.objects.items()
        },
        "frequency": settings.frequency.value,
        "auto_push": settings.auto_push.model_dump(mode="json"),
        "organization_domain": {
            "custom_field_label": settings.organization_domain.custom_field_label,
            "keep_subdomains": settings.organization_domain.keep_subdomains,
        },
    }
