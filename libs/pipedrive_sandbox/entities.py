"""Writes to organizations, persons and deals: validation, soft delete, merge, and their change events."""

from __future__ import annotations

import copy
from typing import Any

from pipedrive_sandbox.account import Account
from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.custom_fields import check_custom_fields
from pipedrive_sandbox.errors import InvalidRequest, NotFound
from pipedrive_sandbox.events import Action, ChangeEvent, ChangeSource, EventListener
from pipedrive_sandbox.records import (
    REQUIRED_ON_CREATE,
    apply_changes,
    apply_custom_fields,
    blank_record,
    split_name,
)
from pipedrive_sandbox.store import DELETED_RETENTION_SECONDS, Entity, EntityTable, Record
from pipedrive_sandbox.timestamps import format_time, parse_time

_INT_FIELDS = {
    "owner_id",
    "org_id",
    "person_id",
    "pipeline_id",
    "stage_id",
    "visible_to",
    "industry",
    "annual_revenue",
    "employee_count",
}
_NULLABLE = {
    "org_id",
    "person_id",
    "website",
    "linkedin",
    "industry",
    "annual_revenue",
    "employee_count",
    "probability",
    "lost_reason",
    "expected_close_date",
    "address",
}


class EntityService:
    """Reads and writes records the way the API does, publishing a change event per effect."""

    def __init__(
        self,
        tables: dict[Entity, EntityTable],
        account: Account,
        clock: SandboxClock,
        listeners: list[EventListener],
    ) -> None:
        self.tables = tables
        self.account = account
        self.clock = clock
        self.listeners = listeners

    def get(self, entity: Entity, record_id: int) -> Record:
        """A record that exists (deleted ones stay readable for 30 days, then they are purged)."""
        record = self.tables[entity].get(record_id)
        if record is None or (
            record.deleted_ts is not None and record.deleted_ts < self.clock.now() - DELETED_RETENTION_SECONDS
        ):
            raise NotFound(f"{entity.value.capitalize()} not found")
        return record

    def create(self, entity: Entity, body: dict[str, Any], user_id: int, source: ChangeSource) -> Record:
        """Create a record from a v2 POST body."""
        required = REQUIRED_ON_CREATE[entity]
        if not isinstance(body.get(required), str) or not body[required].strip():
            raise InvalidRequest(f"{required} is required")
        if entity is Entity.DEAL and body.get("person_id") is None and body.get("org_id") is None:
            raise InvalidRequest("A deal must be linked to a person or an organization")
        table = self.tables[entity]
        now = int(self.clock.now())
        add_ts = parse_time(body["add_time"]) if isinstance(body.get("add_time"), str) else now
        data = blank_record(entity, table.allocate_id(), add_ts, user_id)
        data["update_time"] = format_time(now)
        changes = {k: v for k, v in body.items() if k != "add_time"}
        self._write(entity, data, changes)
        if entity is Entity.DEAL:
            self._settle_deal(data, now)
        record = Record(data["id"], data, add_ts, now)
        table.insert(record)
        self._publish(entity, Action.CREATE, record, None, source, user_id)
        return record

    def update(
        self, entity: Entity, record_id: int, body: dict[str, Any], user_id: int, source: ChangeSource
    ) -> Record:
        """Apply a v2 PATCH body; the update time moves only when something changed."""
        record = self._live(entity, record_id)
        data = copy.deepcopy(record.data)
        previous = self._write(entity, data, body)
        if entity is Entity.DEAL:
            previous.update(self._settle_deal(data, int(self.clock.now()), record.data))
        if previous:
            record.data = data
            self.tables[entity].touch(record, int(self.clock.now()))
            self._publish(entity, Action.CHANGE, record, previous, source, user_id)
        return record

    def delete(
        self, entity: Entity, record_id: int, user_id: int, source: ChangeSource, **meta: int
    ) -> Record:
        """Soft-delete: `is_deleted` set and update time bumped; purged after 30 days."""
        record = self._live(entity, record_id)
        previous = copy.deepcopy(record.data)
        now = int(self.clock.now())
        record.data = {**record.data, "is_deleted": True}
        record.deleted_ts = now
        self.tables[entity].touch(record, now)
        self._publish(entity, Action.DELETE, record, previous, source, user_id, **meta)
        return record

    def merge(
        self, entity: Entity, record_id: int, merge_with_id: int, user_id: int, source: ChangeSource
    ) -> Record:
        """Merge `record_id` into `merge_with_id`: the survivor fills its gaps, the other is deleted."""
        if record_id == merge_with_id:
            raise InvalidRequest("Cannot merge a record with itself")
        loser, survivor = self._live(entity, record_id), self._live(entity, merge_with_id)
        changes = self._merged_values(entity, loser.data, survivor.data)
        self.delete(entity, record_id, user_id, source, merged_to_id=merge_with_id)
        self._move_links(entity, record_id, merge_with_id, user_id, source)
        data = copy.deepcopy(survivor.data)
        previous = apply_changes(entity, data, {k: v for k, v in changes.items() if k != "custom_fields"})
        previous_custom = apply_custom_fields(data, changes.get("custom_fields", {}))
        if previous_custom:
            previous["custom_fields"] = previous_custom
        survivor.data = data
        survivor.merged_from_id = record_id
        self.tables[entity].touch(survivor, int(self.clock.now()))
        self._publish(entity, Action.CHANGE, survivor, previous, source, user_id, merged_from_id=record_id)
        return survivor

    def _live(self, entity: Entity, record_id: int) -> Record:
        record = self.get(entity, record_id)
        if record.deleted_ts is not None:
            raise NotFound(f"{entity.value.capitalize()} not found")
        return record

    def _merged_values(
        self, entity: Entity, loser: dict[str, Any], survivor: dict[str, Any]
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for key in (
            "website",
            "linkedin",
            "industry",
            "annual_revenue",
            "employee_count",
            "address",
            "org_id",
        ):
            if key in survivor and survivor[key] is None and loser.get(key) is not None:
                changes[key] = loser[key]
        if entity is Entity.PERSON:
            for key in ("emails", "phones"):
                known = {item["value"].lower() for item in survivor[key]}
                extra = [
                    {**item, "primary": False} for item in loser[key] if item["value"].lower() not in known
                ]
                if extra:
                    changes[key] = survivor[key] + extra
        custom = {k: v for k, v in loser["custom_fields"].items() if survivor["custom_fields"].get(k) is None}
        if custom:
            changes["custom_fields"] = custom
        return changes

    def _move_links(
        self, entity: Entity, old_id: int, new_id: int, user_id: int, source: ChangeSource
    ) -> None:
        link = {Entity.ORGANIZATION: "org_id", Entity.PERSON: "person_id"}.get(entity)
        if link is None:
            return
        for other in (Entity.PERSON, Entity.DEAL):
            if other is entity:
                continue
            for record in [r for r in self.tables[other].live() if r.data.get(link) == old_id]:
                self.update(other, record.id, {link: new_id}, user_id, source)

    def _write(self, entity: Entity, data: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        changes = {k: v for k, v in body.items() if k != "custom_fields"}
        self._check_types(changes)
        self._check_links(entity, data, changes)
        if entity is Entity.PERSON and "name" in changes and not data["name"]:
            data["first_name"], data["last_name"] = split_name(changes["name"])
        previous = apply_changes(entity, data, changes)
        if "custom_fields" in body:
            checked = check_custom_fields(body["custom_fields"], self.account.custom_fields(entity))
            previous_custom = apply_custom_fields(data, checked)
            if previous_custom:
                previous["custom_fields"] = previous_custom
        return previous

    @staticmethod
    def _check_types(changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None and key in _NULLABLE:
                continue
            if key in _INT_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
                raise InvalidRequest(f"{key} must be an integer")
            if key in ("name", "title", "currency", "website", "linkedin") and not isinstance(value, str):
                raise InvalidRequest(f"{key} must be a string")
            if key in ("emails", "phones") and not _is_contact_list(value):
                raise InvalidRequest(f"{key} must be a list of {{value, primary, label}} objects")
            if key == "status" and value not in ("open", "won", "lost"):
                raise InvalidRequest("status must be one of open, won, lost")

    def _check_links(self, entity: Entity, data: dict[str, Any], changes: dict[str, Any]) -> None:
        if "owner_id" in changes and changes["owner_id"] not in self.account.users:
            raise InvalidRequest("owner_id does not match a user")
        for key, target in (("org_id", Entity.ORGANIZATION), ("person_id", Entity.PERSON)):
            if changes.get(key) is not None:
                self._live(target, changes[key])
        if entity is Entity.DEAL and changes.get("stage_id") is not None:
            stage = self.account.stages.get(changes["stage_id"])
            if stage is None:
                raise InvalidRequest("stage_id does not match a stage")
            changes.setdefault("pipeline_id", stage.pipeline_id)
        if (
            entity is Entity.DEAL
            and "pipeline_id" in changes
            and changes["pipeline_id"] not in self.account.pipelines
        ):
            raise InvalidRequest("pipeline_id does not match a pipeline")

    def _settle_deal(
        self, data: dict[str, Any], now: int, before: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Keep stage and status timestamps consistent, as Pipedrive does; return what that changed."""
        previous: dict[str, Any] = {}
        stage = self.account.stages.get(data["stage_id"])
        if stage is not None and stage.pipeline_id != data["pipeline_id"]:
            first = min(s.id for s in self.account.stages.values() if s.pipeline_id == data["pipeline_id"])
            data["stage_id"] = first
        if before is None or before["stage_id"] != data["stage_id"]:
            if before is not None:
                previous["stage_change_time"] = before["stage_change_time"]
            data["stage_change_time"] = format_time(now)
        if before is None or before["status"] != data["status"]:
            closed = None if data["status"] == "open" else format_time(now)
            for key, value in (("close_time", closed), ("won_time", None), ("lost_time", None)):
                if before is not None and before[key] != value:
                    previous[key] = before[key]
                data[key] = value
            if data["status"] in ("won", "lost"):
                data[f"{data['status']}_time"] = closed
        return previous

    def _publish(
        self,
        entity: Entity,
        action: Action,
        record: Record,
        previous: dict[str, Any] | None,
        source: ChangeSource,
        user_id: int,
        **meta: int,
    ) -> None:
        data = None if action is Action.DELETE else copy.deepcopy(record.data)
        event = ChangeEvent(
            entity, action, record.id, data, previous, source, user_id, self.clock.now(), **meta
        )
        for listener in self.listeners:
            listener(event)


def _is_contact_list(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("value"), str) for item in value
    )
