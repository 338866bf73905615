"""Value types shared by several event payloads."""

from __future__ import annotations

from enum import StrEnum


class SyncObject(StrEnum):
    """The Pipedrive object kinds the sync knows (and their ABM counterparts)."""

    ORGANIZATION = "organization"  # ABM account
    PERSON = "person"  # ABM contact
    DEAL = "deal"  # ABM opportunity


class RecordOutcome(StrEnum):
    """What happened to one record in one direction."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # already up to date: nothing to write
    SKIPPED = "skipped"  # the product could not or would not apply it (the reason says why)
    FAILED = "failed"


class Direction(StrEnum):
    """Which way a change flows."""

    TO_ABM = "to_abm"
    TO_PIPEDRIVE = "to_pipedrive"
