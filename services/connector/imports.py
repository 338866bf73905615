"""Imports: all organizations, filtered organizations, or deals at chosen stages with their organizations
and persons. A filter is compiled against the account's field labels (errors name the column), what v2
lists can filter is pushed down, the rest is evaluated on the pages read. The same reading serves the
preview (counts only, nothing emitted) and the import run (emits with the duplicate handling).

A deal import emits each organization and person once: which ones it already emitted is kept in the
connector's `import_emitted` table (written with each page's position, read for the page's ids only), so
the run's progress stays the same size however many it emitted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connector.incremental import emit_versions
from connector.sync_runs import RunContext
from pipedrive_client import ListFilters, PipedriveClient
from pipedrive_client.models import Deal, Organization, Person, Record
from pipedrive_client.pagination import MAX_PAGE_SIZE, Page, read_ahead
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, DuplicateHandling, ImportContext
from sync_rules.filters import (
    FilterPlan,
    compile_filter,
    evaluate_filter,
    plan_filter,
    standard_filter_fields,
)
from sync_rules.filters.fields import custom_filter_fields
from sync_rules.filters.syntax import Expr
from sync_rules.mappings import FieldDefinition

IDS_PER_CALL = 100


class ImportSource(StrEnum):
    """What an import reads."""

    ALL_ORGANIZATIONS = "all_organizations"
    FILTERED_ORGANIZATIONS = "filtered_organizations"
    DEALS_AT_STAGES = "deals_at_stages"


class ImportRequest(BaseModel):
    """The body of `POST /v1/imports` and `POST /v1/imports/preview`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: ImportSource
    filter: str | None = Field(default=None, min_length=1, max_length=2000)
    stage_ids: tuple[int, ...] = Field(default=(), max_length=100)
    duplicate_handling: DuplicateHandling = DuplicateHandling.SKIP_DUPLICATES

    @model_validator(mode="after")
    def _source_needs(self) -> ImportRequest:
        if self.source is ImportSource.FILTERED_ORGANIZATIONS and not self.filter:
            raise ValueError("filtered_organizations needs a filter expression")
        if self.source is not ImportSource.FILTERED_ORGANIZATIONS and self.filter:
            raise ValueError("a filter applies only to filtered_organizations")
        if self.source is ImportSource.DEALS_AT_STAGES and not self.stage_ids:
            raise ValueError("deals_at_stages needs at least one stage id in stage_ids")
        if self.source is not ImportSource.DEALS_AT_STAGES and self.stage_ids:
            raise ValueError("stage_ids apply only to deals_at_stages")
        return self


@dataclass(frozen=True)
class CompiledFilter:
    """A filter bound to the account: the plan (pushdown + residual) and what evaluation needs."""

    plan: FilterPlan
    now: datetime
    current_user_id: int | None

    def matches(self, record: Record) -> bool:
        """Whether a record read with the pushed-down params also passes the residual."""
        if self.plan.residual is None:
            return True
        return evaluate_filter(
            self.plan.residual,
            record.model_dump(mode="json"),
            now=self.now,
            current_user_id=self.current_user_id,
        )

    def list_filters(self) -> ListFilters:
        """The pushed-down parameters as list filters."""
        params = self.plan.params
        return ListFilters(
            owner_id=_int_or_none(params.get("owner_id")),
            updated_since=_time_or_none(params.get("updated_since")),
            updated_until=_time_or_none(params.get("updated_until")),
        )


async def compile_organization_filter(client: PipedriveClient, source: str, now: datetime) -> CompiledFilter:
    """Bind a filter to the account's organization fields and users; `FilterError` names the column."""
    users = await client.users.list()
    me = await client.users.me()
    user_ids: dict[str, int] = {}
    for user in users:
        user_ids[user.name] = user.id
        if user.email:
            user_ids[user.email] = user.id
    definitions = [
        FieldDefinition(d.field_code, d.field_name, d.is_custom_field, d.field_type)
        for d in await client.fields.list("organization")
    ]
    fields = standard_filter_fields(SyncObject.ORGANIZATION, users=user_ids) | custom_filter_fields(
        definitions
    )
    expression: Expr = compile_filter(source, fields)
    plan = plan_filter(expression, SyncObject.ORGANIZATION, now=now, current_user_id=me.id)
    return CompiledFilter(plan, now, me.id)


@dataclass
class ImportTally:
    """What an import read and selected, per object."""

    read: int = 0
    selected: dict[str, int] = field(default_factory=dict)

    def add(self, obj: SyncObject, count: int) -> None:
        """Count selected records of an object."""
        self.selected[obj.value] = self.selected.get(obj.value, 0) + count


def preview_outcomes(selected: int, known: int, handling: DuplicateHandling) -> dict[str, int]:
    """What an import of `selected` records, `known` of them already sent to the ABM platform, would do
    with the duplicate handling: known records are the duplicates (the mapper may still match a new one
    by its key, so `created` is an upper bound)."""
    new = selected - known
    if handling is DuplicateHandling.SKIP_DUPLICATES:
        return {"created": new, "updated": 0, "skipped": known}
    if handling is DuplicateHandling.UPDATE_EXISTING:
        return {"created": new, "updated": known, "skipped": 0}
    return {"created": selected, "updated": 0, "skipped": 0}


Sink = Callable[[SyncObject, Sequence[Record]], Awaitable[None]]


Position = dict[str, Any]
"""Where an import stands after a page (stored in the run's progress under `position`): the page cursor,
and for deals the stage index."""

IdsByObject = dict[SyncObject, list[int]]

AlreadyEmitted = Callable[[SyncObject, Sequence[int]], Awaitable[set[int]]]
"""Those of these ids of the object that the import has already emitted."""

OnPage = Callable[[Position, IdsByObject], Awaitable[None]]
"""Runs after each page with its position and the organizations and persons it emitted for the first time
in the import."""

LEGACY_EMITTED_KEYS = {"seen_organizations": SyncObject.ORGANIZATION, "seen_persons": SyncObject.PERSON}
"""Where a deal import's position kept the ids it emitted before they moved to `import_emitted`."""


def linked_ids(deals: Sequence[Deal]) -> IdsByObject:
    """The organizations and persons the deals link to, each once, in id order."""
    return {
        SyncObject.ORGANIZATION: sorted({d.org_id for d in deals if d.org_id}),
        SyncObject.PERSON: sorted({d.person_id for d in deals if d.person_id}),
    }


def split_legacy_position(position: Position) -> tuple[Position, IdsByObject]:
    """A position stored before the emitted ids moved to their table: the position without the id lists,
    and the ids they held (nothing for a position of today)."""
    kept = {key: value for key, value in position.items() if key not in LEGACY_EMITTED_KEYS}
    emitted = {obj: sorted(position[key]) for key, obj in LEGACY_EMITTED_KEYS.items() if key in position}
    return kept, emitted


class EmittedInMemory:
    """What a read without a run (the preview) has emitted so far, held in memory: nothing is stored."""

    def __init__(self) -> None:
        self._ids: dict[SyncObject, set[int]] = {}

    async def among(self, obj: SyncObject, ids: Sequence[int]) -> set[int]:
        """Those of `ids` already emitted."""
        return self._ids.get(obj, set()).intersection(ids)

    def add(self, emitted: IdsByObject) -> None:
        """Note ids emitted."""
        for obj, ids in emitted.items():
            self._ids.setdefault(obj, set()).update(ids)


async def read_import(
    client: PipedriveClient,
    request: ImportRequest,
    sink: Sink,
    tally: ImportTally,
    now: datetime,
    *,
    page_size: int = MAX_PAGE_SIZE,
    start: Position | None = None,
    on_page: OnPage | None = None,
    already_emitted: AlreadyEmitted | None = None,
) -> None:
    """Read what the import selects page by page, handing each page's selected records to `sink`.

    `on_page(position, first_emitted)` runs after each page (checkpoints); a run resumes from the `start`
    position. A deal import asks `already_emitted` which of a page's organizations and persons it emitted
    before (without it, it keeps them in memory: a read that no run resumes).
    """
    if request.source is ImportSource.DEALS_AT_STAGES:
        if already_emitted is None:
            memory = EmittedInMemory()
            already_emitted, on_page = memory.among, _noting(memory, on_page)
        await _read_deals(
            client, request.stage_ids, sink, tally, page_size, start or {}, on_page, already_emitted
        )
        return
    compiled = (
        await compile_organization_filter(client, request.filter, now) if request.filter is not None else None
    )
    filters = compiled.list_filters() if compiled else None

    async def fetch(cursor: str | None) -> Page[Organization]:
        return await client.organizations.list_page(filters, cursor, page_size)

    async with aclosing(read_ahead(fetch, (start or {}).get("page_cursor"))) as pages:
        async for page in pages:
            tally.read += len(page.items)
            chosen: list[Organization] = [o for o in page.items if compiled is None or compiled.matches(o)]
            tally.add(SyncObject.ORGANIZATION, len(chosen))
            await sink(SyncObject.ORGANIZATION, chosen)
            if on_page is not None:
                await on_page({"page_cursor": page.next_cursor}, {})


async def _read_deals(
    client: PipedriveClient,
    stage_ids: Sequence[int],
    sink: Sink,
    tally: ImportTally,
    page_size: int,
    start: Position,
    on_page: OnPage | None,
    already_emitted: AlreadyEmitted,
) -> None:
    cursor: str | None = start.get("page_cursor")
    for index in range(int(start.get("stage_index", 0)), len(stage_ids)):
        while True:
            page = await client.deals.list_page(ListFilters(stage_id=stage_ids[index]), cursor, page_size)
            deals: list[Deal] = page.items
            tally.read += len(deals)
            first_emitted: IdsByObject = {}
            for linked, ids in linked_ids(deals).items():
                before = await already_emitted(linked, ids)
                first_emitted[linked] = [i for i in ids if i not in before]
            orgs: list[Organization] = await _by_ids(
                client.organizations.list_page, first_emitted[SyncObject.ORGANIZATION]
            )
            persons: list[Person] = await _by_ids(client.persons.list_page, first_emitted[SyncObject.PERSON])
            for obj, records in (
                (SyncObject.ORGANIZATION, orgs),
                (SyncObject.PERSON, persons),
                (SyncObject.DEAL, deals),
            ):
                tally.add(obj, len(records))
                await sink(obj, records)
            cursor = page.next_cursor
            if on_page is not None:
                position = {"stage_index": index if cursor else index + 1, "page_cursor": cursor}
                await on_page(position, first_emitted)
            if cursor is None:
                break


def _noting(memory: EmittedInMemory, on_page: OnPage | None) -> OnPage:
    async def noted(position: Position, first_emitted: IdsByObject) -> None:
        memory.add(first_emitted)
        if on_page is not None:
            await on_page(position, first_emitted)

    return noted


async def _by_ids(list_page: Callable[..., Awaitable[Any]], ids: Sequence[int]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        chunk = ids[start : start + IDS_PER_CALL]
        page = await list_page(ListFilters(ids=chunk), None, IDS_PER_CALL)
        found.extend(page.items)
    return found


async def run_import(context: RunContext) -> None:
    """The work of an import run: emit what the import selects, carrying its duplicate handling; after a
    crash it resumes from the position of its last stored page (that page's counts, and the organizations
    and persons it emitted first, stored with it)."""
    request = ImportRequest.model_validate(context.run.spec)
    import_context = ImportContext(
        import_id=context.run.run_id, duplicate_handling=request.duplicate_handling
    )
    tally = ImportTally()
    progress = context.run.progress
    read_before, selected_before = progress.get("read", 0), dict(progress.get("selected", {}))

    async def sink(obj: SyncObject, records: Sequence[Record]) -> None:
        await emit_versions(context, obj, records, ChangeOrigin.IMPORT, import_context)

    async def on_page(position: Position, first_emitted: IdsByObject) -> None:
        progress["position"] = position
        progress["read"] = read_before + tally.read
        progress["selected"] = {
            obj: selected_before.get(obj, 0) + tally.selected.get(obj, 0)
            for obj in sorted(selected_before.keys() | tally.selected.keys())
        }
        await context.checkpoint(first_emitted)

    async def already_emitted(obj: SyncObject, ids: Sequence[int]) -> set[int]:
        return await context.runs.emitted_by_run(context.run, obj, ids)

    start, legacy_emitted = split_legacy_position(progress.get("position") or {})
    if legacy_emitted:
        # A run interrupted before its emitted ids had a table of their own: move them there first.
        progress["position"] = start
        await context.checkpoint(legacy_emitted)
    await read_import(
        context.client,
        request,
        sink,
        tally,
        context.now(),
        page_size=context.options.page_size,
        start=start,
        on_page=on_page,
        already_emitted=already_emitted,
    )


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
