"""The import filter language of DESIGN.md section 5.

Grammar (keywords and labels are case-insensitive)::

    expression := or
    or         := and ("OR" and)*
    and        := not ("AND" not)*
    not        := "NOT" not | "(" expression ")" | comparison
    comparison := label operator value
    label      := word+                      e.g. Add Time, Expected close date
    operator   := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "CONTAINS"
    value      := "quoted text" | number | "today" | "last" N "days" | "next" N "days" | "current user"

Quoted text uses double quotes with ``\\"`` and ``\\\\`` escapes. A date field also takes an ISO date in
quotes (``"2026-01-31"``). Relative dates name a calendar day in the time zone of the ``now`` passed in
(today, today minus N, today plus N); date-time fields compare by that day, so
``Add Time > last 30 days`` means "added after the day 30 days ago".

Use :func:`compile_filter` to parse and bind labels, :func:`plan_filter` to split off what Pipedrive's v2
list endpoints filter server-side, and :func:`evaluate_filter` for the rest.
"""

from sync_rules.filters.binding import bind_fields, compile_filter
from sync_rules.filters.errors import FilterError
from sync_rules.filters.evaluator import evaluate_filter
from sync_rules.filters.fields import FieldKind, FilterField, standard_filter_fields
from sync_rules.filters.parser import parse_filter
from sync_rules.filters.planner import FilterPlan, plan_filter
from sync_rules.filters.printer import print_filter

__all__ = [
    "FieldKind",
    "FilterError",
    "FilterField",
    "FilterPlan",
    "bind_fields",
    "compile_filter",
    "evaluate_filter",
    "parse_filter",
    "plan_filter",
    "print_filter",
    "standard_filter_fields",
]
