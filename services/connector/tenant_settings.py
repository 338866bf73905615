"""A tenant's sync settings as values: what a new tenant starts with, and the compacted record of a version
published on `psync.settings.v1` (saved, versioned and published by `settings_store`)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import SyncObject
from schemas.events.settings import ObjectSettings, TenantSettings
from schemas.keys import settings_key
from schemas.topics import SETTINGS
from stream_runner.messages import OutgoingMessage


def default_settings() -> TenantSettings:
    """A new tenant's settings (version 1 once saved): Pipedrive into ABM for every object, manual."""
    return TenantSettings(version=1, objects={obj: ObjectSettings() for obj in SyncObject})


def settings_message(tenant: str, settings: TenantSettings) -> OutgoingMessage:
    """The compacted settings record of a tenant, with an id derived from (tenant, version)."""
    event = build_event(
        settings,
        tenant=tenant,
        subject=settings_key(tenant),
        source=sources.CONNECTOR,
        id_parts=(settings.version,),
        time=datetime.now(UTC),
    )
    return OutgoingMessage.of_event(SETTINGS.name, event)
