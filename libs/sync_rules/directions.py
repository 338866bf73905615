"""Directions: per object, the four create/update switches and the label the console shows for them."""

from enum import StrEnum

from schemas.events.common import Direction
from schemas.events.settings import DirectionSwitches


class Operation(StrEnum):
    """What a sync may do to a target record."""

    CREATE = "create"
    UPDATE = "update"


SYNC_BOTH_WAYS = "Sync both ways"
SYNC_INTO_PIPEDRIVE = "Sync into Pipedrive"
SYNC_INTO_ABM = "Sync into ABM"
NOT_SYNCING = "Not syncing"


def is_allowed(switches: DirectionSwitches, direction: Direction, operation: Operation) -> bool:
    """Tell whether ``operation`` toward ``direction`` is switched on."""
    if direction is Direction.TO_PIPEDRIVE:
        return switches.create_in_pipedrive if operation is Operation.CREATE else switches.update_in_pipedrive
    return switches.create_in_abm if operation is Operation.CREATE else switches.update_in_abm


def syncs_toward(switches: DirectionSwitches, direction: Direction) -> bool:
    """Tell whether anything (create or update) flows toward ``direction``."""
    return is_allowed(switches, direction, Operation.CREATE) or is_allowed(
        switches, direction, Operation.UPDATE
    )


def direction_label(switches: DirectionSwitches) -> str:
    """Return the console label: "Sync both ways", "Sync into Pipedrive", "Sync into ABM", "Not syncing"."""
    into_pipedrive = syncs_toward(switches, Direction.TO_PIPEDRIVE)
    into_abm = syncs_toward(switches, Direction.TO_ABM)
    if into_pipedrive and into_abm:
        return SYNC_BOTH_WAYS
    if into_pipedrive:
        return SYNC_INTO_PIPEDRIVE
    return SYNC_INTO_ABM if into_abm else NOT_SYNCING


def switches_for_label(label: str) -> DirectionSwitches:
    """Return the switches a console label stands for (both create and update on in each direction).

    Raises ValueError for a label that is not one of the four.
    """
    both = {"create_in_pipedrive": True, "update_in_pipedrive": True}
    abm = {"create_in_abm": True, "update_in_abm": True}
    by_label = {
        SYNC_BOTH_WAYS: DirectionSwitches(**both, **abm),
        SYNC_INTO_PIPEDRIVE: DirectionSwitches(**both),
        SYNC_INTO_ABM: DirectionSwitches(**abm),
        NOT_SYNCING: DirectionSwitches(),
    }
    if label not in by_label:
        raise ValueError(f"unknown direction {label!r}; choose one of {', '.join(by_label)}")
    return by_label[label]
