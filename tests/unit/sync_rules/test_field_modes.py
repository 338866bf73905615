import pytest

from schemas.events.common import Direction
from schemas.events.settings import FieldMode
from sync_rules.field_modes import FieldModes, parse_field_mode


@pytest.mark.parametrize(
    ("text", "mode"),
    [("Don't sync", FieldMode.DONT_SYNC), ("fill", FieldMode.FILL), (" OVERWRITE ", FieldMode.OVERWRITE)],
)
def test_mode_parses_from_label_or_value(text: str, mode: FieldMode) -> None:
    assert parse_field_mode(text) is mode


def test_unknown_mode_names_the_choices() -> None:
    with pytest.raises(ValueError, match="Don't sync, Fill or Overwrite"):
        parse_field_mode("Merge")


def test_modes_are_chosen_per_direction() -> None:
    modes = FieldModes(to_pipedrive=FieldMode.FILL, to_abm=FieldMode.OVERWRITE)

    assert modes.toward(Direction.TO_PIPEDRIVE) is FieldMode.FILL
    assert modes.toward(Direction.TO_ABM) is FieldMode.OVERWRITE


def test_fields_do_not_sync_unless_configured() -> None:
    assert FieldModes() == FieldModes(FieldMode.DONT_SYNC, FieldMode.DONT_SYNC)
