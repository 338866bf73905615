"""A batch's rows bound as one JSON parameter, split in SQL: `jsonb_array_elements($1::text::jsonb)`.

asyncpg encodes a typed array element by element, with a few `isinstance` checks against abstract base
classes per element (Python-level `ABCMeta.__instancecheck__` calls): a column of 2,000 values costs it
about 0.7 µs a value, a timestamptz about 2 µs, several µs per row of seven columns. The rows as one JSON
array of arrays (orjson, in C) cost about a tenth of that, and PostgreSQL reads `r->>0, r->>1, ...` of
each `jsonb_array_elements` row about as cheaply as it reads parallel `unnest` arrays (measured on 2,000
rows of seven columns: client 5-7 -> 0.6 µs a row, server 2.4-4.8 -> 2.6-5.6 µs a row).

Values stay exact: strings are JSON-escaped and come back as the same text (`->>`), integers are exact
in jsonb's numeric, a nested value (a record's fields) is `r->N`, the jsonb `f::jsonb` of its orjson text
was before. Times go as orjson writes them, RFC 3339 with their UTC offset, and `(r->>N)::timestamptz`
is the same instant: times must be aware (a naive one would be read in the session's time zone, where
asyncpg takes it as local time); every time the stores write is (validated as aware, or read from a
timestamptz column). orjson writes an offset to the minute only (one of 30 seconds comes out as
`+00:01`): a time that may carry seconds in its offset goes through `utc` first. The parameter is
declared `$n::text` and cast in SQL, so the pool's jsonb codec is not applied to it.

A column of long texts (an inbox's saved outputs, a mirrored record's JSON) goes beside the rows as one
more text, the texts joined by the record separator (`joined_texts`) and split in SQL (`texts_table`),
zipped with the rows in order by `ROWS FROM`. Inside the rows' JSON they would cost
PostgreSQL a second parse of every text; as a text array asyncpg encodes them element by element. An
inbox-like insert of 2,000 rows (one process alternating the shapes, medians of 12, load 13 to 17): texts
of about 600 characters (an inbox's outputs, a mirrored record) cost the client 1.35-1.39 µs a row joined
against 1.70-1.73 as an array, the backend 5.9-6.4 against 6.7-7.0; of about 1,500 characters the array
costs the client less (3.7-4.2 against 4.6-5.0: the joined parameter is one string of 3 MB), the backend
the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson


def json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as one JSON array of arrays, for `jsonb_array_elements($n::text::jsonb) AS r`."""
    return orjson.dumps(rows).decode()


def joined_texts(texts: Sequence[str]) -> str:
    """The texts as one parameter, for `texts_table`: joined by the record separator (chr(30)), one row
    each, in order. Refused (ValueError) when one holds the separator or is empty (`string_to_table`
    yields no row for an empty text), either of which would shift every later row against its text: JSON
    writes a control character inside a string escaped (`\\u001e`), so a JSON text holds none raw."""
    joined = TEXT_SEPARATOR.join(texts)
    if joined.count(TEXT_SEPARATOR) != max(len(texts) - 1, 0) or not all(texts):
        raise ValueError("a text holds a record separator or is empty")
    return joined


def texts_table(parameter: str) -> str:
    """The SQL rows of a `joined_texts` parameter (`parameter`: its placeholder, `$n`), one text each, for
    `ROWS FROM (jsonb_array_elements($1::text::jsonb), {texts_table('$2')}) AS x(r, t)`."""
    return f"string_to_table({parameter}::text, chr({ord(TEXT_SEPARATOR)}))"


TEXT_SEPARATOR = "\x1e"
"""The record separator, chr(30), between the texts of `joined_texts`."""


def joined_ints(values: Sequence[int]) -> str:
    """Integers joined by commas, for `string_to_array($n, ',')::bigint[]`."""
    return ",".join(map(str, values))


def utc(at: datetime) -> datetime:
    """`at` in UTC, which orjson writes exactly (a naive time taken as local, as asyncpg takes it)."""
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def copy_text(text: str) -> str:
    """A text as one field of COPY's text format (`copy_to_table(..., format="text")`): its backslashes,
    tabs, newlines and carriage returns escaped, so that a field never ends early and a text `\\N` is
    not read as NULL. A text holding none of them (the usual) is returned as it is."""
    return text.translate(_COPY_ESCAPES) if has_copy_specials(text) else text


def has_copy_specials(text: str) -> bool:
    """Whether the text holds a character `copy_text` escapes (four scans in C: a regular expression's
    character class reads a long text a few times slower)."""
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def copy_json(value: Any) -> str:
    """A JSON value (orjson's text, as `json_rows` writes it) as one field of COPY's text format: orjson
    writes no raw control character (it escapes them inside strings), so only its backslashes need
    escaping."""
    text = orjson.dumps(value).decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


COPY_NULL = "\\N"
"""NULL in COPY's text format."""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
