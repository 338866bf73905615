"""The activity log's entries as values: a per-record line, the event that adds it, and how entries are
counted into their runs (the SQL that keeps them is `activity_log_store`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from schemas.events.sync_runs import RunFinished, RunKind, RunStarted, applied_run_id
from sync_rules.duplicates import summary_reason

REASON_LENGTH = 200


class RecordEntry(NamedTuple):
    """One per-record line of the activity log (a named tuple: built once per record result, at a
    quarter of a frozen dataclass's cost, whose `__init__` sets each field through `object.__setattr__`)."""

    run_id: str | None
    object: str
    direction: str
    match_key: str
    pipedrive_id: int | None
    abm_id: str | None
    outcome: str
    message: str | None
    tokens_spent: int
    occurred_at: datetime
    name: str | None = None  # the record's name (a deal's title), when its result carried one


class EntryEvent(NamedTuple):
    """An event that adds one entry: who sent it, its id, the topic it came from, and the entry (a named
    tuple, as `RecordEntry`)."""

    tenant: str
    event_id: str
    topic: str
    entry: RecordEntry


EntryRow = tuple[
    str,
    str,
    str | None,
    str,
    str,
    str,
    str,
    int | None,
    str | None,
    str,
    str | None,
    int,
    datetime,
    str | None,
]
"""One `entries` row in the table's column order (`activity_log_store`'s COPY writes it as it is): tenant,
event id, run, source topic, object, direction, match key, Pipedrive id, ABM id, outcome, message, tokens
spent, time, record name. A plain tuple: a batch of record results builds one per result and nothing else
(a named tuple's `__new__` is a Python-level call)."""


def entry_row(event: EntryEvent) -> EntryRow:
    """The `entries` row of an event's entry."""
    run_id, obj, direction, match_key, pipedrive_id, abm_id, outcome, message, tokens, at, name = event.entry
    return (event.tenant, event.event_id, run_id, event.topic, obj, direction, match_key, pipedrive_id,
            abm_id, outcome, message, tokens, at, name)  # fmt: skip


def tally_entries(rows: Sequence[EntryRow]) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """(records, tokens) per (tenant, run, outcome, reason) of the entries that belong to a run."""
    tallies: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for tenant, _, run_id, _, _, _, _, _, _, outcome, message, tokens_spent, _, _ in rows:
        if run_id is None:
            continue
        key = (tenant, run_id, outcome, reason_of(message))
        records, tokens = tallies.get(key, (0, 0))
        tallies[key] = (records + 1, tokens + tokens_spent)
    return tallies


def applies_run_of(run: RunStarted | RunFinished) -> str | None:
    """The connector run an apply run applies (a mapper from before the link was sent named it in the
    apply run's id only)."""
    if run.applies_run_id is not None or run.kind is not RunKind.APPLY:
        return run.applies_run_id
    return applied_run_id(run.run_id)


def reason_of(message: str | None) -> str:
    """The reason an entry is counted under: its message (`Duplicate found` for each duplicate, whatever
    record it names: `summary_reason`), cut to a length a summary can show."""
    return summary_reason(message or "")[:REASON_LENGTH]
