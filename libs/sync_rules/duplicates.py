"""Duplicate handling for imports: what to do with a record that already exists in the target."""

from enum import StrEnum

from schemas.events.source_changes import DuplicateHandling

DUPLICATE_FOUND = "Duplicate found"
_DUPLICATE_FOUND_BECAUSE = f"{DUPLICATE_FOUND}: "


def summary_reason(message: str) -> str:
    """The reason a record's message is counted under in a run's or a preview's summary: `Duplicate
    found` for every `Duplicate found: <what it duplicates>` (each names another record), else the
    message itself."""
    return DUPLICATE_FOUND if message.startswith(_DUPLICATE_FOUND_BECAUSE) else message


class DuplicateAction(StrEnum):
    """What the import does with one record."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"


def decide_duplicate_action(handling: DuplicateHandling, match_exists: bool) -> DuplicateAction:
    """Return what an import does with a record, given whether a matching target record exists.

    With no match every choice creates. With a match: skip duplicates skips (logged as
    ``Duplicate found``), update existing updates, create duplicates creates another record.
    """
    if not match_exists:
        return DuplicateAction.CREATE
    if handling is DuplicateHandling.SKIP_DUPLICATES:
        return DuplicateAction.SKIP
    if handling is DuplicateHandling.UPDATE_EXISTING:
        return DuplicateAction.UPDATE
    return DuplicateAction.CREATE
