"""Kafka message keys: part of the external contract (DESIGN.md section 4).

Everything that can lead to a write of one Pipedrive record carries the same key,
`tenant:object:match_key`, so partition i of every such topic lands on one replica.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events.common import SyncObject


class InvalidRecordKeyError(ValueError):
    """A record key or one of its parts is malformed."""


@dataclass(frozen=True)
class RecordKey:
    """The parts of a `tenant:object:match_key` record key."""

    tenant: str
    object: SyncObject
    match_key: str

    def __str__(self) -> str:
        return f"{self.tenant}:{self.object.value}:{self.match_key}"


def record_key(tenant: str, obj: SyncObject, match_key: str) -> str:
    """Key of a record-level event: `tenant:object:match_key`.

    Raises InvalidRecordKeyError for an empty part or a tenant containing `:`.
    """
    if not tenant or ":" in tenant:
        raise InvalidRecordKeyError(f"tenant {tenant!r} must be non-empty and must not contain ':'")
    if not match_key:
        raise InvalidRecordKeyError("a record key needs a match key")
    return f"{tenant}:{obj.value}:{match_key}"  # str(RecordKey(...)), without the object per key


def parse_record_key(key: str) -> RecordKey:
    """Split a `tenant:object:match_key` key into its parts (the match key may itself hold `:`)."""
    parts = key.split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise InvalidRecordKeyError(f"{key!r} is not a record key of the form tenant:object:match_key")
    try:
        sync_object = SyncObject(parts[1])
    except ValueError as error:
        raise InvalidRecordKeyError(f"{key!r} names an unknown object {parts[1]!r}") from error
    return RecordKey(parts[0], sync_object, parts[2])


def tenant_of_key(key: str) -> str:
    """The tenant a Kafka key belongs to: every key of every topic starts with it (`tenant`,
    `tenant:run_id`, `tenant:object:...`), and a tenant never contains `:`."""
    return key.partition(":")[0]


def source_change_key(tenant: str, obj: SyncObject, pipedrive_id: int) -> str:
    """Key of a source change: `tenant:object:pipedrive_id`."""
    return f"{tenant}:{obj.value}:{pipedrive_id}"


def run_key(tenant: str, run_id: str) -> str:
    """Key of a run event: `tenant:run_id`."""
    return f"{tenant}:{run_id}"


def audit_key(tenant: str) -> str:
    """Key of an audit event: the tenant (a tenant's audit entries stay in order)."""
    return tenant


def settings_key(tenant: str) -> str:
    """Key of a settings event: the tenant."""
    return tenant
