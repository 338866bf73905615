"""Kafka message keys: part of the external contract (DESIGN.md section 4).

Everything that can lead to a write of one Pipedrive record carries the same key,
`tenant:object:match_key`, so partition i of every such topic lands on one replica.
"""

from __future__ import annotations

from schemas.events.common import SyncObject


def record_key(tenant: str, obj: SyncObject, match_key: str) -> str:
    """Key of a record-level event: `tenant:object:match_key`."""
    return f"{tenant}:{obj.value}:{match_key}"


def source_change_key(tenant: str, obj: SyncObject, pipedrive_id: int) -> str:
    """Key of a source change: `tenant:object:pipedrive_id`."""
    return f"{tenant}:{obj.value}:{pipedrive_id}"


def run_key(tenant: str, run_id: str) -> str:
    """Key of a run event: `tenant:run_id`."""
    return f"{tenant}:{run_id}"


def settings_key(tenant: str) -> str:
    """Key of a settings event: the tenant."""
    return tenant
