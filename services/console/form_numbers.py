"""Whole numbers a person types into a form or finds in an address. Only plain digits count: a sign, a
decimal point, a superscript or another script's digit ("²", "٣"), or more digits than any setting takes
is not a whole number here, so a page says what it wants instead of failing (Python's `int()` refuses
"²" though `"²".isdigit()` holds, and a number beyond 64 bits cannot be sent to a service as JSON)."""

from __future__ import annotations

MOST_DIGITS = 15
"""More digits than any count, threshold, score or index the console asks for."""


def whole_number(raw: object) -> int | None:
    """The whole number typed (spaces around it allowed), or None when it is not one."""
    text = str(raw if raw is not None else "").strip()
    if text.isascii() and text.isdigit() and len(text) <= MOST_DIGITS:
        return int(text)
    return None
