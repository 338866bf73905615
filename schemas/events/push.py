"""`psync.push-requests.v1` and `psync.push-results.v1`: pushes of ABM records into Pipedrive."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


class WrittenVersion(BaseModel):
    """The Pipedrive record version a push's write produced: the values it wrote, as Pipedrive answered
    them, and the record's update time then. The write's echo (that version read back by a sync or a
    webhook) carries the same values and update time."""

    model_config = ConfigDict(frozen=True)

    update_time: AwareDatetime = Field(
        description="The record's `update_time` in Pipedrive's answer to the write."
    )
    values: dict[str, Any] = Field(
        description="The fields the write set, by Pipedrive v2 key (custom fields under `custom_fields` by"
        " their code), with their values as Pipedrive answered (the shape source changes carry)."
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
    written: WrittenVersion | None = Field(
        default=None,
        description="What a create or update left in Pipedrive (absent from older pushers, and when nothing"
        " was written): the mapper keeps those values in the ABM store as their echo from Pipedrive would.",
    )
