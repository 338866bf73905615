"""What an import reads, as the admin asks for it: the body of `POST /v1/imports` and its preview.

Sources: organizations, persons or deals, each optionally filtered (`all_organizations` and
`filtered_organizations` are the first two of the product's names); deals at chosen pipeline stages, by
stage id or name (`stages`, or the older `stage_ids`), optionally filtered too. A deal import brings the
organizations and persons its deals link to.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.common import SyncObject
from schemas.events.source_changes import DuplicateHandling


class ImportSource(StrEnum):
    """What an import reads."""

    ALL_ORGANIZATIONS = "all_organizations"
    FILTERED_ORGANIZATIONS = "filtered_organizations"
    ORGANIZATIONS = "organizations"
    PERSONS = "persons"
    DEALS = "deals"
    DEALS_AT_STAGES = "deals_at_stages"


OBJECT_OF_SOURCE = {
    ImportSource.ALL_ORGANIZATIONS: SyncObject.ORGANIZATION,
    ImportSource.FILTERED_ORGANIZATIONS: SyncObject.ORGANIZATION,
    ImportSource.ORGANIZATIONS: SyncObject.ORGANIZATION,
    ImportSource.PERSONS: SyncObject.PERSON,
    ImportSource.DEALS: SyncObject.DEAL,
    ImportSource.DEALS_AT_STAGES: SyncObject.DEAL,
}


class ImportRequest(BaseModel):
    """The body of `POST /v1/imports` and `POST /v1/imports/preview`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: ImportSource
    filter: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description='An expression over field labels, e.g. Value > 10000 AND Stage = "Proposal".',
    )
    stages: tuple[int | str, ...] = Field(
        default=(),
        max_length=100,
        description='deals_at_stages: stage ids or names ("Proposal" in every pipeline that has it, '
        '"Sales / Proposal" in one).',
    )
    stage_ids: tuple[int, ...] = Field(default=(), max_length=100, description="Stage ids (older form).")
    duplicate_handling: DuplicateHandling = DuplicateHandling.SKIP_DUPLICATES

    @model_validator(mode="after")
    def _source_needs(self) -> ImportRequest:
        if self.source is ImportSource.FILTERED_ORGANIZATIONS and not self.filter:
            raise ValueError("filtered_organizations needs a filter expression")
        if self.source is ImportSource.ALL_ORGANIZATIONS and self.filter:
            raise ValueError("all_organizations takes no filter: use organizations with a filter")
        at_stages = self.source is ImportSource.DEALS_AT_STAGES
        if at_stages and not (self.stages or self.stage_ids):
            raise ValueError("deals_at_stages needs at least one stage (an id or a name) in stages")
        if not at_stages and (self.stages or self.stage_ids):
            raise ValueError("stages apply only to deals_at_stages")
        return self

    @property
    def object(self) -> SyncObject:
        """The object the import selects (a deal import brings linked organizations and persons too)."""
        return OBJECT_OF_SOURCE[self.source]

    @property
    def stage_references(self) -> tuple[int | str, ...]:
        """Every stage asked for, ids and names, in the order given."""
        return (*self.stages, *self.stage_ids)
