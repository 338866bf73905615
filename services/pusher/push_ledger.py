"""The push ledger: what the pusher is about to create, what it wrote, when, and with what result.

A creating call is guarded: its intent (the planned body) is committed before the POST, and the result
(the new Pipedrive id) after it. An intent without a result means a crash (or an ambiguous failure) came
between the two: before creating again the pusher looks for the record it may have created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.common import SyncObject

INTENT = "intent"
DONE = "done"


@dataclass(frozen=True)
class LedgerEntry:
    """One record's row: the state of its last create, its Pipedrive id, the values written that Pipedrive
    still holds, the version (`update_time`) the last write produced, and every value last sent to the
    record (`pushed`: kept when a person changes it in Pipedrive, unlike `written`)."""

    match_key: str
    state: str
    pipedrive_id: int | None
    planned_body: Mapping[str, Any] | None
    intent_at: datetime | None
    written: Mapping[str, Any]
    written_at: datetime | None
    written_version: datetime | None = None
    pushed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unresolved_intent(self) -> bool:
        """A create may have reached Pipedrive without its result being recorded."""
        return self.state == INTENT


def merge_written(before: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The values written so far with a new write body over them (custom fields merged by code)."""
    merged = {**before, **body}
    if isinstance(before.get("custom_fields"), Mapping) and isinstance(body.get("custom_fields"), Mapping):
        merged["custom_fields"] = {**before["custom_fields"], **body["custom_fields"]}
    return merged


def is_echo_of(entry: LedgerEntry, record: Mapping[str, Any], version: datetime) -> bool:
    """Whether a record version read back from Pipedrive is the one the pusher's last write produced."""
    if entry.written_version is not None and version != entry.written_version:
        return False
    return is_echo(entry.written, record)


def still_held(entry: LedgerEntry, record: Mapping[str, Any], version: datetime) -> Mapping[str, Any] | None:
    """The written values a newer version that is not an echo still holds, or None when nothing is to be
    forgotten (an older version, or every value still held). Without this, one edit in Pipedrive of a field
    the pusher once wrote would keep every later echo of the record from being recognized."""
    if entry.written_version is not None and version < entry.written_version:
        return None
    held: dict[str, Any] = {}
    for key, value in entry.written.items():
        if key == "custom_fields" and isinstance(value, Mapping):
            theirs = record.get("custom_fields") or {}
            codes = {code: v for code, v in value.items() if theirs.get(code) == v}
            if codes:
                held[key] = codes
        elif record.get(key) == value:
            held[key] = value
    return None if held == dict(entry.written) else held


def is_echo(written: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether a record read back from Pipedrive carries exactly the values the pusher last wrote."""
    if not written:
        return False
    for key, value in written.items():
        if key == "custom_fields" and isinstance(value, Mapping):
            theirs = record.get("custom_fields") or {}
            if any(theirs.get(code) != v for code, v in value.items()):
                return False
        elif record.get(key) != value:
            return False
    return True


def id_spans(records: Iterable[tuple[str, SyncObject, int]]) -> list[tuple[str, str, int, int]]:
    """The least and the greatest Pipedrive id of each tenant's object among `records`, as (tenant, object,
    least, greatest): a ledger row under none of these spans is the row of none of the records."""
    spans: dict[tuple[str, SyncObject], list[int]] = {}
    for tenant, obj, pipedrive_id in records:
        span = spans.get((tenant, obj))
        if span is None:
            spans[(tenant, obj)] = [pipedrive_id, pipedrive_id]
        elif pipedrive_id < span[0]:
            span[0] = pipedrive_id
        elif pipedrive_id > span[1]:
            span[1] = pipedrive_id
    return [(tenant, obj.value, least, greatest) for (tenant, obj), (least, greatest) in spans.items()]


def entry_of(row: Any) -> LedgerEntry | None:
    """A ledger row as an entry (None for no row)."""
    if row is None:
        return None
    return LedgerEntry(
        match_key=row["match_key"],
        state=row["state"],
        pipedrive_id=row["pipedrive_id"],
        planned_body=row["planned_body"],
        intent_at=row["intent_at"],
        written=row["written"] or {},
        written_at=row["written_at"],
        written_version=row["written_version"],
        pushed=row["pushed"] or {},
    )
