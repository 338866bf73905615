"""A change the mapper could not apply says so in the activity log in words an admin can act on: what
failed (the error's class, for whoever looks into it) and that the change is kept, not lost."""

from __future__ import annotations

from mapper.handlers import dead_lettered_message


class UntranslatableCharacterError(Exception):
    """Stands for PostgreSQL's refusal of a value (any class will do: only its name is shown)."""


def test_the_message_names_the_failure_and_says_the_change_is_kept_for_a_re_drive() -> None:
    message = dead_lettered_message(UntranslatableCharacterError("\\u0000 cannot be converted to text"))

    assert message.startswith("Could not be applied (UntranslatableCharacterError)")
    assert "kept in the mapper's dead letters" in message
    assert "re-drive" in message
    # The error's own text (a database's message may quote the record's values) stays out of it.
    assert "\\u0000" not in message
