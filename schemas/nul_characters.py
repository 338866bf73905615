"""NUL characters (U+0000) in JSON input: PostgreSQL's text and jsonb cannot hold one, so what reaches the
database refuses them at the door, naming where they are: the HTTP APIs in a request's body
(`service_runtime.http_inputs`), the consumers in an event of the ABM platform (`codec.decoder_of`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BACKSLASH = ord("\\")
"""What every escape in JSON bytes starts with. `BACKSLASH in raw` (an int: a `memchr`, about 20 ns for
an ABM event of 400 to 600 bytes) rules a NUL out before the search for `NUL_ESCAPE` (about 300 ns: its
last byte, `0`, is common in JSON); an event without any escape (most) costs only the first."""
NUL_ESCAPE = b"\\u0000"
"""How a NUL appears in JSON bytes: JSON has no other way to write one in a string (a raw NUL byte is
invalid JSON). Its presence is necessary, not sufficient: `\\\\u0000` is a backslash, then `u0000`."""


def nul_locations(document: Any, where: str = "") -> Iterator[str]:
    """The dotted paths of the strings (keys included) in a JSON document that hold a NUL character."""
    if isinstance(document, str):
        if "\x00" in document:
            yield where
    elif isinstance(document, dict):
        for key, value in document.items():
            path = f"{where}.{key}" if where else str(key)
            if "\x00" in key:
                yield path.replace("\x00", "\\u0000")
            else:
                yield from nul_locations(value, path)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from nul_locations(value, f"{where}.{index}" if where else str(index))
