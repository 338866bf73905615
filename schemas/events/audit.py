"""`psync.audit.v1`: who changed what of a tenant's integration, and when (the audit entries)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AuditAction(StrEnum):
    """What was done."""

    SETTINGS_CHANGED = "settings_changed"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    API_KEY_ISSUED = "api_key_issued"
    API_KEY_REVOKED = "api_key_revoked"


class Actor(BaseModel):
    """Who acted: the API key the call came with, and the person the caller named (`X-Psync-Actor`: the
    console sends its signed-in user's email); both None for the system itself (a scheduled change)."""

    model_config = ConfigDict(frozen=True)

    key_id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=320)


class AuditChange(BaseModel):
    """One value that changed: its path in the settings (`objects.organization.fields`), before, after."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(min_length=1, max_length=300)
    before: Any = None
    after: Any = None


class AuditRecorded(BaseModel):
    """One audited action on a tenant's integration."""

    model_config = ConfigDict(frozen=True)

    action: AuditAction
    actor: Actor
    at: AwareDatetime
    changes: tuple[AuditChange, ...] = ()
    detail: str | None = Field(
        default=None, max_length=500, description="In words, what the action was about (`API token`, ...)."
    )
