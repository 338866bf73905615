import pytest

from schemas.events.common import Direction
from schemas.events.settings import DirectionSwitches
from sync_rules.directions import Operation, direction_label, is_allowed, switches_for_label


@pytest.mark.parametrize(
    ("switches", "label"),
    [
        (
            DirectionSwitches(
                create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
            ),
            "Sync both ways",
        ),
        (DirectionSwitches(create_in_pipedrive=True, update_in_abm=True), "Sync both ways"),
        (DirectionSwitches(create_in_pipedrive=True, update_in_pipedrive=True), "Sync into Pipedrive"),
        (DirectionSwitches(update_in_pipedrive=True), "Sync into Pipedrive"),
        (DirectionSwitches(create_in_abm=True), "Sync into ABM"),
        (DirectionSwitches(), "Not syncing"),
    ],
)
def test_console_label_follows_the_switches(switches: DirectionSwitches, label: str) -> None:
    assert direction_label(switches) == label


def test_each_switch_allows_only_its_operation() -> None:
    switches = DirectionSwitches(update_in_pipedrive=True, create_in_abm=True)

    assert is_allowed(switches, Direction.TO_PIPEDRIVE, Operation.UPDATE) is True
    assert is_allowed(switches, Direction.TO_PIPEDRIVE, Operation.CREATE) is False
    assert is_allowed(switches, Direction.TO_ABM, Operation.CREATE) is True
    assert is_allowed(switches, Direction.TO_ABM, Operation.UPDATE) is False


@pytest.mark.parametrize("label", ["Sync both ways", "Sync into Pipedrive", "Sync into ABM", "Not syncing"])
def test_label_round_trips_through_switches(label: str) -> None:
    assert direction_label(switches_for_label(label)) == label


def test_unknown_label_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="Sync both ways"):
        switches_for_label("Sideways")
