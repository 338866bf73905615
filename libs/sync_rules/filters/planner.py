"""Planning: which top-level AND conjuncts Pipedrive's v2 list endpoints filter, and what is left to
evaluate on the pages read.

Pushed down, each at most once: ``Owner = <user>`` (``owner_id``), and for deals ``Stage = <stage>``
(``stage_id``), ``Pipeline = <pipeline>`` (``pipeline_id``), ``Status = <status>`` (``status``);
``Update Time >=, >, <, <= <date>`` become ``updated_since`` (inclusive) / ``updated_until`` (exclusive)
at the start of the right day. Anything under OR or NOT stays local.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sync_rules.filters.dates import resolve_relative_date, start_of_day
from sync_rules.filters.fields import ServerParam
from sync_rules.filters.syntax import And, Comparison, CurrentUser, Expr, Operator, RelativeDate, conjunction
from sync_rules.objects import SyncObject

SERVER_PARAMS: Mapping[SyncObject, frozenset[ServerParam]] = {
    SyncObject.ORGANIZATION: frozenset({ServerParam.OWNER_ID, ServerParam.UPDATE_TIME}),
    SyncObject.PERSON: frozenset({ServerParam.OWNER_ID, ServerParam.UPDATE_TIME}),
    SyncObject.DEAL: frozenset(ServerParam),
}
_EQUALITY_PARAMS = {ServerParam.OWNER_ID, ServerParam.STAGE_ID, ServerParam.PIPELINE_ID, ServerParam.STATUS}
_LOWER_BOUNDS = {Operator.GE: 0, Operator.GT: 1}
_UPPER_BOUNDS = {Operator.LT: 0, Operator.LE: 1}


@dataclass(frozen=True)
class FilterPlan:
    """Query parameters for the v2 list endpoint, and the residual expression (None when nothing is left)."""

    params: dict[str, str | int] = field(default_factory=dict)
    residual: Expr | None = None


def plan_filter(
    expression: Expr,
    sync_object: SyncObject,
    *,
    now: datetime,
    current_user_id: int | None,
    reserved: frozenset[ServerParam] = frozenset(),
) -> FilterPlan:
    """Split a bound expression into server-side list parameters and a residual to evaluate locally.

    Records matching ``params`` and then the residual are exactly the records matching ``expression``.
    ``reserved`` parameters are set by the caller (an import by stages lists each stage): comparisons on
    them stay in the residual.
    """
    supported = SERVER_PARAMS[sync_object] - reserved
    params: dict[str, str | int] = {}
    residual: list[Expr] = []
    for item in expression.items if isinstance(expression, And) else (expression,):
        pushed = _pushdown(item, supported, now, current_user_id) if isinstance(item, Comparison) else None
        if pushed is None or pushed[0] in params:
            residual.append(item)
        else:
            params[pushed[0]] = pushed[1]
    return FilterPlan(params, conjunction(residual))


def _pushdown(
    comparison: Comparison, supported: frozenset[ServerParam], now: datetime, user: int | None
) -> tuple[str, str | int] | None:
    param = comparison.field.server_param if comparison.field else None
    if param is None or param not in supported:
        return None
    if param in _EQUALITY_PARAMS:
        return _equality(param, comparison, user)
    return _update_window(comparison, now)


def _equality(param: ServerParam, comparison: Comparison, user: int | None) -> tuple[str, str | int] | None:
    operand = comparison.operand
    if comparison.operator is not Operator.EQ:
        return None
    if isinstance(operand, CurrentUser):
        operand = user
    if isinstance(operand, int) or (param is ServerParam.STATUS and isinstance(operand, str)):
        return param.value, operand
    return None


def _update_window(comparison: Comparison, now: datetime) -> tuple[str, str | int] | None:
    operand = comparison.operand
    day = resolve_relative_date(operand, now) if isinstance(operand, RelativeDate) else operand
    if not isinstance(day, date):
        return None
    if comparison.operator in _LOWER_BOUNDS:
        return "updated_since", _rfc3339(day + timedelta(days=_LOWER_BOUNDS[comparison.operator]), now)
    if comparison.operator in _UPPER_BOUNDS:
        return "updated_until", _rfc3339(day + timedelta(days=_UPPER_BOUNDS[comparison.operator]), now)
    return None


def _rfc3339(day: date, now: datetime) -> str:
    return start_of_day(day, now).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
