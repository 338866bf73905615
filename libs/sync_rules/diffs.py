"""Diffs: the changes to write to a target record from a source record, under the field modes.

Records here are flat mappings in one field namespace (translate with :mod:`sync_rules.mappings` first).
Fill writes only where the target is empty, Overwrite wherever the source differs, Don't sync never; an
empty source never clears a target.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from schemas.events.settings import FieldMode
from sync_rules.field_modes import FieldModes


class Side(StrEnum):
    """The system a value comes from."""

    PIPEDRIVE = "pipedrive"
    ABM = "abm"


@dataclass(frozen=True)
class TwoWayChanges:
    """The changes to write to each side after resolving two-way conflicts."""

    to_pipedrive: dict[str, Any] = field(default_factory=dict)
    to_abm: dict[str, Any] = field(default_factory=dict)


_COLLECTIONS = (list, tuple, dict, set, frozenset)


def is_empty(value: object) -> bool:
    """Tell whether a value counts as empty: None, blank text, or an empty list or mapping (0 is a value)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, _COLLECTIONS):
        return len(value) == 0
    return False


def field_change(mode: FieldMode, source_value: object, target_value: object) -> bool:
    """Tell whether a field is written: never for Don't sync or an empty source; Fill only into an empty
    target; Overwrite whenever the values differ."""
    if mode is FieldMode.DONT_SYNC or is_empty(source_value):
        return False
    if mode is FieldMode.FILL:
        return is_empty(target_value)
    return bool(source_value != target_value)


def compute_changes(
    source: Mapping[str, Any], target: Mapping[str, Any], modes: Mapping[str, FieldMode]
) -> dict[str, Any]:
    """Return the fields to write to ``target`` so it follows ``source`` under ``modes``.

    Fields absent from ``modes`` are not synced. An absent target field is empty.
    """
    changes = {}
    for name, mode in modes.items():
        value = source.get(name)
        if field_change(mode, value, target.get(name)):
            changes[name] = value
    return changes


def apply_changes(target: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``target`` with ``changes`` written over it."""
    return {**target, **changes}


def conflict_winner(pipedrive_changed_at: datetime | None, abm_changed_at: datetime | None) -> Side:
    """Return the side whose change wins a two-way Overwrite conflict: the later change, ties to Pipedrive.

    A side whose change time is unknown counts as older than any known time.
    """
    if abm_changed_at is None:
        return Side.PIPEDRIVE
    if pipedrive_changed_at is None:
        return Side.ABM
    return Side.ABM if abm_changed_at > pipedrive_changed_at else Side.PIPEDRIVE


def compute_two_way_changes(
    pipedrive: Mapping[str, Any],
    abm: Mapping[str, Any],
    modes: Mapping[str, FieldModes],
    *,
    pipedrive_changed_at: datetime | None,
    abm_changed_at: datetime | None,
) -> TwoWayChanges:
    """Return the changes for both sides of a linked pair of records.

    Where a field overwrites in both directions and both sides hold different non-empty values, only the
    side with the most recent change (by source change time; ties to Pipedrive) is written to the other.
    Every other field follows :func:`field_change` in each direction independently.
    """
    result = TwoWayChanges()
    winner = conflict_winner(pipedrive_changed_at, abm_changed_at)
    for name, field_modes in modes.items():
        ours, theirs = abm.get(name), pipedrive.get(name)
        if _is_conflict(field_modes, ours, theirs):
            target = result.to_abm if winner is Side.PIPEDRIVE else result.to_pipedrive
            target[name] = theirs if winner is Side.PIPEDRIVE else ours
            continue
        if field_change(field_modes.to_pipedrive, ours, theirs):
            result.to_pipedrive[name] = ours
        if field_change(field_modes.to_abm, theirs, ours):
            result.to_abm[name] = theirs
    return result


def _is_conflict(modes: FieldModes, abm_value: object, pipedrive_value: object) -> bool:
    both_overwrite = modes.to_pipedrive is FieldMode.OVERWRITE and modes.to_abm is FieldMode.OVERWRITE
    both_set = not is_empty(abm_value) and not is_empty(pipedrive_value)
    return both_overwrite and both_set and abm_value != pipedrive_value
