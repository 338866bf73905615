"""`psync.record-results.v1`: the outcome of applying one Pipedrive record to the ABM store."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.common import RecordOutcome, SyncObject


class RecordApplied(BaseModel):
    """One record applied (or not) to the ABM store, with the activity log's message."""

    model_config = ConfigDict(frozen=True)

    object: SyncObject
    match_key: str = Field(min_length=1, description="Domain, email or deal id; `-` when none was usable.")
    pipedrive_id: int | None = Field(default=None, gt=0)
    abm_id: str | None = None
    outcome: RecordOutcome
    message: str | None = None
    run_id: str | None = None
    name: str | None = Field(
        default=None,
        description="The record's name (a deal's title) as Pipedrive holds it, when the change carried one.",
    )
