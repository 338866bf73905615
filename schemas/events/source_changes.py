"""`psync.source-changes.v1`: Pipedrive records as the connector read them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events.common import SyncObject


class ChangeAction(StrEnum):
    """What the connector saw happen to the record."""

    UPSERTED = "upserted"  # created or changed; `record` holds the full v2 record
    DELETED = "deleted"
    MERGED = "merged"  # the record was merged into `merged_into_id` and is gone


class ChangeOrigin(StrEnum):
    """How the connector learned of the change."""

    POLL = "poll"
    WEBHOOK = "webhook"
    IMPORT = "import"
    RECONCILE = "reconcile"


class DuplicateHandling(StrEnum):
    """What an import does when the ABM side already has a record with the same match key."""

    SKIP_DUPLICATES = "skip_duplicates"
    UPDATE_EXISTING = "update_existing"
    CREATE_DUPLICATES = "create_duplicates"


class ImportContext(BaseModel):
    """Present on changes emitted by an import: how the mapper must treat duplicates."""

    model_config = ConfigDict(frozen=True)

    import_id: str = Field(min_length=1)
    duplicate_handling: DuplicateHandling


class SourceChange(BaseModel):
    """One Pipedrive record version, as read back from the API (webhooks are only hints)."""

    model_config = ConfigDict(frozen=True)

    object: SyncObject
    pipedrive_id: int = Field(gt=0)
    action: ChangeAction
    update_time: AwareDatetime = Field(description="Pipedrive's update_time of this version (seconds).")
    record: dict[str, Any] | None = Field(
        default=None, description="The record in Pipedrive's API v2 shape; absent for deletes and merges."
    )
    merged_into_id: int | None = Field(default=None, gt=0, description="The surviving record of a merge.")
    origin: ChangeOrigin
    import_context: ImportContext | None = None
