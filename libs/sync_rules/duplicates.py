"""Duplicate handling for imports: what to do with a record that already exists in the target."""

from enum import StrEnum

DUPLICATE_FOUND = "Duplicate found"


class DuplicateHandling(StrEnum):
    """The admin's choice when starting an import."""

    SKIP_DUPLICATES = "skip_duplicates"
    UPDATE_EXISTING = "update_existing"
    CREATE_DUPLICATES = "create_duplicates"


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
