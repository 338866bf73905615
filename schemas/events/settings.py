"""`psync.settings.v1` (compacted): the sync settings of one tenant. Never carries secrets."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.common import SyncObject


class FieldMode(StrEnum):
    """How one mapped field is written in one direction."""

    DONT_SYNC = "dont_sync"
    FILL = "fill"  # write only where the target is empty
    OVERWRITE = "overwrite"  # write whenever the source differs

    @property
    def label(self) -> str:
        """The console's name of the mode."""
        return {"dont_sync": "Don't sync", "fill": "Fill", "overwrite": "Overwrite"}[self.value]


class Frequency(StrEnum):
    """How often the scheduler reads Pipedrive for a tenant."""

    MANUAL = "manual"
    EVERY_24H = "24h"
    EVERY_6H = "6h"
    EVERY_1H = "1h"


class DirectionSwitches(BaseModel):
    """The four switches of one object (all off unless set; see `ObjectSettings` for the defaults)."""

    model_config = ConfigDict(frozen=True)

    create_in_pipedrive: bool = False
    update_in_pipedrive: bool = False
    create_in_abm: bool = False
    update_in_abm: bool = False


INTO_ABM = DirectionSwitches(create_in_abm=True, update_in_abm=True)
"""A new tenant's default: Pipedrive records flow into the ABM platform; nothing is written to Pipedrive."""


class FieldMapping(BaseModel):
    """One mapped field: the ABM field, the Pipedrive field (native key or custom field label)."""

    model_config = ConfigDict(frozen=True)

    abm_field: str = Field(min_length=1)
    pipedrive_field: str = Field(min_length=1, description="v2 key, or the label of a custom field.")
    custom: bool = False
    field_code: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{40}$",
        description="For custom fields: the account's 40-hex field code, resolved by the connector.",
    )
    to_pipedrive: FieldMode = FieldMode.DONT_SYNC
    to_abm: FieldMode = FieldMode.FILL


class ObjectSettings(BaseModel):
    """Settings of one object kind."""

    model_config = ConfigDict(frozen=True)

    directions: DirectionSwitches = INTO_ABM
    fields: tuple[FieldMapping, ...] = ()


class AutoPush(BaseModel):
    """Automatic pushes of ABM signals into Pipedrive."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    score_threshold: int = Field(default=10, ge=1, le=100)
    visited_pages_as_activity: bool = Field(
        default=False,
        description="Add a revealed company's visited pages as one done activity on its organization "
        "(one more write, 5 tokens, per reveal that lists pages).",
    )


class OrganizationDomainField(BaseModel):
    """Where an organization's domain lives in Pipedrive: the native `website` or a custom field."""

    model_config = ConfigDict(frozen=True)

    custom_field_label: str | None = Field(
        default=None,
        description="Label of a text custom field, read first (a record whose field is empty is keyed by its"
        " native `website`); None means the native `website` field.",
    )
    custom_field_code: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{40}$", description="The label's field code (set by the connector)."
    )
    keep_subdomains: bool = False


class TenantSettings(BaseModel):
    """The whole, versioned settings of one tenant as published by the connector."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1, description="Increases with every saved change; consumers keep the highest.")
    objects: dict[SyncObject, ObjectSettings]
    frequency: Frequency = Frequency.MANUAL
    webhooks_enabled: bool = False
    auto_push: AutoPush = AutoPush()
    organization_domain: OrganizationDomainField = OrganizationDomainField()
    connected: bool = Field(default=False, description="Whether Pipedrive is connected.")
    pipedrive_web_url: str | None = Field(
        default=None,
        max_length=300,
        description="The connected company's Pipedrive web app (`https://<company>.pipedrive.com`), where a"
        " record's page is `<url>/<organization|person|deal>/<id>`; set by the connector on connect.",
    )
