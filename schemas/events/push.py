"""`psync.push-requests.v1` and `psync.push-results.v1`: pushes of ABM records into Pipedrive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.common import RecordOutcome, SyncObject


class PushRequested(BaseModel):
    """A confirmed manual push of one record, carrying the full ABM record."""

    model_config = ConfigDict(frozen=True)

    object: SyncObject
    match_key: str = Field(min_length=1)
    abm_id: str | None = None
    record: dict[str, Any] = Field(description="The ABM record's fields by ABM field name.")
    batch_id: str = Field(min_length=1)
    requested_by: str | None = None
    batch_size: int | None = Field(
        default=None, ge=1, description="How many records the batch holds (its run ends after the last)."
    )


class PushCompleted(BaseModel):
    """The outcome of pushing one record into Pipedrive."""

    model_config = ConfigDict(frozen=True)

    object: SyncObject
    match_key: str = Field(min_length=1)
    abm_id: str | None = None
    outcome: RecordOutcome
    pipedrive_id: int | None = Field(default=None, gt=0)
    fields_written: tuple[str, ...] = ()
    tokens_spent: int = Field(default=0, ge=0)
    message: str | None = None
    run_id: str = Field(min_length=1)
    deleted_in_pipedrive: bool = Field(
        default=False,
        description="Pipedrive answered 404 for `pipedrive_id`: the record was deleted there (the ABM record"
        " is marked deleted in CRM; nothing more is sent for it).",
    )
