"""Duplicate handling for imports: what to do with a record that already exists in the target."""

from enum import StrEnum

from schemas.events.source_changes import DuplicateHandling

DUPLICATE_FOUND = "Duplicate found"


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
