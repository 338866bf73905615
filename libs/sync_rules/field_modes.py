"""Field modes: per mapped field and per direction, Don't sync, Fill or Overwrite."""

from dataclasses import dataclass

from schemas.events.common import Direction
from schemas.events.settings import FieldMode


@dataclass(frozen=True)
class FieldModes:
    """The mode of one field in each direction."""

    to_pipedrive: FieldMode = FieldMode.DONT_SYNC
    to_abm: FieldMode = FieldMode.DONT_SYNC

    def toward(self, direction: Direction) -> FieldMode:
        """Return the mode used when writing toward ``direction``."""
        return self.to_pipedrive if direction is Direction.TO_PIPEDRIVE else self.to_abm


def parse_field_mode(text: str) -> FieldMode:
    """Return the mode named by a console label ("Fill") or a stored value ("fill"), case-insensitively.

    Raises ValueError naming the accepted values.
    """
    wanted = text.strip().casefold()
    for mode in FieldMode:
        if wanted in (mode.value, mode.label.casefold()):
            return mode
    raise ValueError(f"unknown field mode {text!r}; choose Don't sync, Fill or Overwrite")
