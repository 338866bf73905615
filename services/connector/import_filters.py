"""Binding an import's filter and stages to the connected account's catalog.

A filter's syntax is checked first, without Pipedrive. Its labels (the product's, such as `Add Time`, and
every field the account lists, built-in or custom, by its Pipedrive label), option names, users and stage
names are then resolved from the stored catalog, which is read again when it lacks something the filter
names. What Pipedrive's list can filter (owner, stage, pipeline, status, update time) is pushed down; the
rest is evaluated on the pages read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from connector.catalog import Catalog, Catalogs
from connector.import_request import ImportRequest
from pipedrive_client import ListFilters
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from sync_rules.filters import (
    FilterError,
    FilterPlan,
    bind_fields,
    evaluate_filter,
    parse_filter,
    plan_filter,
)
from sync_rules.filters.fields import FilterField, ServerParam, account_filter_fields
from sync_rules.filters.stages import PipelineStages, StageReferenceError, resolve_stages, stage_options
from sync_rules.filters.syntax import Expr


@dataclass(frozen=True)
class CompiledFilter:
    """A filter bound to the account: the plan (pushdown + residual) and what evaluation needs."""

    plan: FilterPlan
    now: datetime
    current_user_id: int | None

    def matches(self, record: RecordRow) -> bool:
        """Whether a record read with the pushed-down params also passes the residual."""
        if self.plan.residual is None:
            return True
        return evaluate_filter(
            self.plan.residual,
            record.values,
            now=self.now,
            current_user_id=self.current_user_id,
        )

    def list_filters(self, stage_id: int | None = None) -> ListFilters:
        """The pushed-down parameters as list filters (with the stage an import by stages lists)."""
        params = self.plan.params
        status = params.get("status")
        return ListFilters(
            owner_id=_int_or_none(params.get("owner_id")),
            updated_since=_time_or_none(params.get("updated_since")),
            updated_until=_time_or_none(params.get("updated_until")),
            stage_id=stage_id if stage_id is not None else _int_or_none(params.get("stage_id")),
            pipeline_id=_int_or_none(params.get("pipeline_id")),
            status=status if status in ("open", "won", "lost", "deleted") else None,  # type: ignore[arg-type]
        )


NO_FILTER = CompiledFilter(FilterPlan(), datetime.fromtimestamp(0, UTC), None)
"""Selects every record listed."""


def check_filter_syntax(source: str) -> Expr:
    """The parsed filter; `FilterError` naming the column of the first syntax problem (no Pipedrive)."""
    return parse_filter(source)


def pipelines_of(catalog: Catalog) -> list[PipelineStages]:
    """The catalog's pipelines and stages, as the stage rules take them."""
    return [PipelineStages(p.id, p.name, tuple((s.id, s.name) for s in p.stages)) for p in catalog.pipelines]


def filter_fields(catalog: Catalog, obj: SyncObject) -> dict[str, FilterField]:
    """Every label a filter on the object may use, with the account's users, stages and pipelines."""
    users: dict[str, int] = {}
    for user in catalog.users:
        users[user.name] = user.id
        if user.email:
            users[user.email] = user.id
    stages, ambiguous = stage_options(pipelines_of(catalog))
    pipelines: dict[str, int | str | tuple[int | str, ...]] = {}
    for pipeline in catalog.pipelines:
        known = pipelines.get(pipeline.name)
        pipelines[pipeline.name] = pipeline.id if known is None else (*_as_tuple(known), pipeline.id)
    return account_filter_fields(
        obj,
        catalog.definitions(obj),
        users=users,
        stages=stages,
        ambiguous_stages=ambiguous,
        pipelines=pipelines,
    )


def bind_filter(
    catalog: Catalog,
    obj: SyncObject,
    expression: Expr,
    now: datetime,
    reserved: frozenset[ServerParam] = frozenset(),
) -> CompiledFilter:
    """Bind a parsed filter to the catalog and plan it; `FilterError` names the column of a problem."""
    bound = bind_fields(expression, filter_fields(catalog, obj))
    me = catalog.connected_user.id
    plan = plan_filter(bound, obj, now=now, current_user_id=me, reserved=reserved)
    return CompiledFilter(plan, now, me)


def _binds(obj: SyncObject, expression: Expr, now: datetime) -> Callable[[Catalog], bool]:
    def check(catalog: Catalog) -> bool:
        try:
            bind_filter(catalog, obj, expression, now)
        except FilterError:
            return False
        return True

    return check


async def compile_filter_for(
    catalogs: Catalogs,
    tenant: str,
    obj: SyncObject,
    source: str,
    now: datetime,
    reserved: frozenset[ServerParam] = frozenset(),
) -> CompiledFilter:
    """Check the syntax, then bind to the tenant's catalog (read again when it lacks a name the filter
    uses); `FilterError` names the column, the client's errors pass through."""
    expression = check_filter_syntax(source)
    catalog = await catalogs.current(tenant, has=_binds(obj, expression, now))
    return bind_filter(catalog, obj, expression, now, reserved)


async def resolve_stages_for(
    catalogs: Catalogs, tenant: str, references: tuple[int | str, ...]
) -> tuple[int, ...]:
    """The stage ids of an import by stages (ids, names or "Pipeline / Stage"); the catalog is read again
    when it lacks one; `StageReferenceError` names the bad reference."""

    def resolvable(catalog: Catalog) -> bool:
        try:
            resolve_stages(references, pipelines_of(catalog))
        except StageReferenceError:
            return False
        return True

    catalog = await catalogs.current(tenant, has=resolvable)
    return resolve_stages(references, pipelines_of(catalog))


def _as_tuple(value: int | str | tuple[int | str, ...]) -> tuple[int | str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _time_or_none(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ImportSelection:
    """What an import reads, bound to the account: the object, its filter and the deal stages to list."""

    object: SyncObject
    filter: CompiledFilter = NO_FILTER
    stage_ids: tuple[int, ...] = ()


async def select_for(
    catalogs: Catalogs, tenant: str, request: ImportRequest, now: datetime
) -> ImportSelection:
    """Bind an import request to the tenant's catalog: its stages resolved to ids, its filter planned
    (a stage comparison stays local when the import lists stages itself)."""
    stage_ids: tuple[int, ...] = ()
    if request.stage_references:
        stage_ids = await resolve_stages_for(catalogs, tenant, request.stage_references)
    reserved = frozenset({ServerParam.STAGE_ID}) if stage_ids else frozenset()
    compiled = NO_FILTER
    if request.filter is not None:
        compiled = await compile_filter_for(catalogs, tenant, request.object, request.filter, now, reserved)
    return ImportSelection(request.object, compiled, stage_ids)
