"""Audit entries of the connector: who changed a tenant's settings and what, who connected or
disconnected Pipedrive. Recorded in the transaction of the change (an outbox), published to
`psync.audit.v1` after it; what failed to publish is published again with the settings' retries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import sources
from schemas.catalog import build_event
from schemas.events.audit import Actor, AuditAction, AuditChange, AuditRecorded
from schemas.events.settings import TenantSettings
from schemas.keys import audit_key
from schemas.topics import AUDIT
from stream_runner.messages import OutgoingMessage
from tenant_auth.actors import current_actor

SYSTEM = Actor()
_UNAUDITED = frozenset({"version"})


def settings_changes(before: TenantSettings, after: TenantSettings) -> list[AuditChange]:
    """Every value that differs between two versions, by its path (`auto_push.enabled`); a list, such as
    an object's field mappings, is one value."""
    return _changes(before.model_dump(mode="json"), after.model_dump(mode="json"), "")


def _changes(before: Any, after: Any, path: str) -> list[AuditChange]:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        names = sorted(set(before) | set(after), key=str)
        found: list[AuditChange] = []
        for name in names:
            if not path and name in _UNAUDITED:
                continue
            found += _changes(before.get(name), after.get(name), f"{path}.{name}" if path else str(name))
        return found
    return [] if before == after else [AuditChange(path=path, before=before, after=after)]


def audit_entry(
    action: AuditAction, changes: list[AuditChange], detail: str | None, at: datetime
) -> AuditRecorded | None:
    """The entry of a change made for the current actor; None for a settings change that changed
    nothing."""
    if action is AuditAction.SETTINGS_CHANGED and not changes:
        return None
    return AuditRecorded(
        action=action, actor=current_actor() or SYSTEM, at=at, changes=tuple(changes), detail=detail
    )


def audit_message(tenant: str, entry_id: int, entry: AuditRecorded) -> OutgoingMessage:
    """The entry as an event, its id derived from (tenant, outbox entry id)."""
    event = build_event(
        entry, tenant=tenant, subject=audit_key(tenant), source=sources.CONNECTOR,
        id_parts=("audit", entry_id), time=entry.at,
    )  # fmt: skip
    return OutgoingMessage.of_event(AUDIT.name, event)
