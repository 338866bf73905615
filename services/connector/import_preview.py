"""Preview arithmetic: what an import of the selected records would do with its duplicate handling."""

from __future__ import annotations

from schemas.events.source_changes import DuplicateHandling


def preview_outcomes(selected: int, known: int, handling: DuplicateHandling) -> dict[str, int]:
    """What an import of `selected` records, `known` of them already sent to the ABM platform, would do
    with the duplicate handling: known records are the duplicates (the mapper may still match a new one
    by its key, so `created` is an upper bound)."""
    new = selected - known
    if handling is DuplicateHandling.SKIP_DUPLICATES:
        return {"created": new, "updated": 0, "skipped": known}
    if handling is DuplicateHandling.UPDATE_EXISTING:
        return {"created": new, "updated": known, "skipped": 0}
    return {"created": selected, "updated": 0, "skipped": 0}
