"""How psyncctl prints a report: JSON (`--json`) for scripts, an aligned table and notes for people."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO

import orjson

from psyncctl.context import Report

_MAX_CELL = 80


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value).replace("\n", " ")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as lines of left-aligned columns, a header first (the keys of the rows, first seen first)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    return [
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
        for line in [columns, *cells]
    ]


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_report(report: Report, *, as_json: bool, out: TextIO) -> None:
    """Write the report: its data as JSON, or its table and then its notes."""
    if as_json:
        out.write(orjson.dumps(report.data, default=_default, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    lines = table(report.rows) if report.rows else []
    out.write("\n".join([*lines, *report.notes]) + "\n")
