"""Reading what an import selects, page by page: the pushed-down list filters, the residual evaluated on
each page, and for deals the organizations and persons the selected deals link to (each once per import).

The same reading serves the preview (nothing emitted) and the import run (emits, checkpoints after each
page and resumes from the position of the last one stored). A deal import keeps the organizations and
persons it emitted in the connector's `import_emitted` table (read for the page's ids only), so the run's
progress stays the same size however many it emitted.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from connector.import_filters import ImportSelection
from pipedrive_client import ListFilters, PipedriveClient
from pipedrive_client.pagination import MAX_PAGE_SIZE, Page, read_ahead
from pipedrive_client.resources import EntityResource
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from service_runtime.turns import in_turns

IDS_PER_CALL = 100
READ_AHEAD = 2
"""Pages of a listing read ahead of the one handed over: the page after the next is asked as soon as the
next one's answer is in, so the reading (a budget charge, the credentials, Pipedrive's answer, each a
round trip) never waits for the page in hand to be encoded and handed over."""
UNSTORED_PAGES = 2
"""Pages of a listing waiting to be stored, or being stored, while the next one is handed over: the loop
goes on while there are no more (the import stores the pages waiting together in one checkpoint)."""


@dataclass
class ImportTally:
    """What an import read and selected, per object."""

    read: int = 0
    selected: dict[str, int] = field(default_factory=dict)

    def add(self, obj: SyncObject, count: int) -> None:
        """Count selected records of an object."""
        self.selected[obj.value] = self.selected.get(obj.value, 0) + count


Sink = Callable[[SyncObject, Sequence[RecordRow]], Awaitable[None]]

Position = dict[str, Any]
"""Where an import stands after a page (stored in the run's progress under `position`): the page cursor,
and for deals the stage index."""

IdsByObject = dict[SyncObject, list[int]]

AlreadyEmitted = Callable[[SyncObject, Sequence[int]], Awaitable[set[int]]]
"""Those of these ids of the object that the import has already emitted."""

OnPage = Callable[[Position, IdsByObject], Awaitable[None]]
"""Stores a page after it was handed to `sink`, with its position and the organizations and persons it
emitted for the first time in the import. Called once the page is handed over, its result awaited later:
a listing's page is stored while the next pages are read and handed over, so what the page stores
(counts, versions) must be taken when it is called, not when the result is awaited. Pages are stored one
at a time, in order: a page's result is awaited once the page before it is stored (a store may store the
pages handed over since with it, in one checkpoint)."""


def pages_left(position: Position, listings: int = 1) -> bool:
    """Whether an import that stored `position` has pages left to read.

    An import stores its position with each page: for a listing of organizations or persons, the cursor of
    the next page, None after the last one; for deals, one listing per stage, the stage it is in with the
    cursor in it (the next stage, cursor None, once a stage is read whole). No position: no page stored yet.
    A run interrupted after its last page was stored (before it was closed) resumes with nothing to read;
    read again from the first page, it would emit every record again and count each twice, so its
    RunFinished would say it emitted more changes than the mapper can ever apply (issue #14 item 8).
    """
    if "stage_index" in position:
        return int(position["stage_index"]) < listings
    return "page_cursor" not in position or position["page_cursor"] is not None


def linked_ids(deals: Sequence[RecordRow]) -> IdsByObject:
    """The organizations and persons the deals link to, each once, in id order."""
    orgs = (d.reference("org_id") for d in deals)
    persons = (d.reference("person_id") for d in deals)
    return {
        SyncObject.ORGANIZATION: sorted({i for i in orgs if i}),
        SyncObject.PERSON: sorted({i for i in persons if i}),
    }


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


def resource_for(client: PipedriveClient, obj: SyncObject) -> EntityResource[Any]:
    """The client's resource of an object."""
    resources: dict[SyncObject, EntityResource[Any]] = {
        SyncObject.ORGANIZATION: client.organizations,
        SyncObject.PERSON: client.persons,
        SyncObject.DEAL: client.deals,
    }
    return resources[obj]


async def read_import(
    client: PipedriveClient,
    selection: ImportSelection,
    sink: Sink,
    tally: ImportTally,
    *,
    page_size: int = MAX_PAGE_SIZE,
    start: Position | None = None,
    on_page: OnPage | None = None,
    already_emitted: AlreadyEmitted | None = None,
) -> None:
    """Read what the import selects page by page, handing each page's selected records to `sink`.

    `on_page(position, first_emitted)` runs after each page (checkpoints); a run resumes from the `start`
    position. A deal import asks `already_emitted` which of a page's organizations and persons it emitted
    before (without it, it keeps them in memory: a read that no run resumes). A position past the last
    page (`pages_left`) reads nothing.
    """
    start = start or {}
    if not pages_left(start, len(selection.stage_ids) or 1):
        return
    if selection.object is SyncObject.DEAL:
        if already_emitted is None:
            memory = EmittedInMemory()
            already_emitted, on_page = memory.among, _noting(memory, on_page)
        await _read_deals(client, selection, sink, tally, page_size, start, on_page, already_emitted)
        return
    resource = resource_for(client, selection.object)
    filters = selection.filter.list_filters()

    async def fetch(cursor: str | None) -> Page[Any]:
        return await resource.list_items(filters, cursor, page_size, ahead)

    # The next pages are read while this one is handed over, and handed over while the pages before it
    # are stored (their acknowledgements awaited, their checkpoint written): a page costs the longest of
    # the three, not their sum. Pages are stored in order, each once the one before it is (none after a
    # store that failed); the loop waits only when more than `UNSTORED_PAGES` stores are under way, and
    # a store's failure ends the reading at the next page. Each page is charged while the one before it is
    # read (`charging_ahead`), once it is sure to be asked unless that one is the last.
    storing: deque[asyncio.Future[None]] = deque()
    async with (
        resource.charging_ahead() as ahead,
        aclosing(
            read_ahead(fetch, start.get("page_cursor"), depth=READ_AHEAD, ready_for_next=ahead.start_next)
        ) as pages,
    ):
        try:
            async for page in pages:
                # The records are read here, not in `fetch`: the next page is asked with this one's cursor
                # first, and the reading is done in turns of the event loop (`in_turns`). A record the
                # model refuses fails the run as before, the next page (or two) already asked by then.
                records = await in_turns(resource.rows, page.items)
                tally.read += len(records)
                chosen = [record for record in records if selection.filter.matches(record)]
                tally.add(selection.object, len(chosen))
                await sink(selection.object, chosen)
                if on_page is None:
                    continue
                stored = on_page({"page_cursor": page.next_cursor}, {})
                storing.append(asyncio.ensure_future(_after(storing[-1] if storing else None, stored)))
                while storing and (len(storing) > UNSTORED_PAGES or storing[0].done()):
                    await storing.popleft()
            while storing:
                await storing.popleft()
        finally:
            while storing:
                await _finished(storing.popleft())


async def _read_deals(
    client: PipedriveClient,
    selection: ImportSelection,
    sink: Sink,
    tally: ImportTally,
    page_size: int,
    start: Position,
    on_page: OnPage | None,
    already_emitted: AlreadyEmitted,
) -> None:
    stages: Sequence[int | None] = selection.stage_ids or (None,)
    cursor: str | None = start.get("page_cursor")
    for index in range(int(start.get("stage_index", 0)), len(stages)):
        filters = selection.filter.list_filters(stage_id=stages[index])
        while True:
            page = await client.deals.list_rows(filters, cursor, page_size)
            tally.read += len(page.items)
            deals = [d for d in page.items if selection.filter.matches(d)]
            first_emitted = await _first_linked(deals, already_emitted)
            for obj, records in (
                (
                    SyncObject.ORGANIZATION,
                    await _by_ids(client.organizations, first_emitted[SyncObject.ORGANIZATION]),
                ),
                (SyncObject.PERSON, await _by_ids(client.persons, first_emitted[SyncObject.PERSON])),
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


async def _first_linked(deals: Sequence[RecordRow], already_emitted: AlreadyEmitted) -> IdsByObject:
    first: IdsByObject = {}
    for linked, ids in linked_ids(deals).items():
        before = await already_emitted(linked, ids)
        first[linked] = [i for i in ids if i not in before]
    return first


async def _after(previous: asyncio.Future[None] | None, store: Awaitable[None]) -> None:
    """Run `store` once `previous` is done; not at all when it failed (its failure is raised)."""
    if previous is not None:
        try:
            await previous
        except BaseException:
            if inspect.iscoroutine(store):
                store.close()
            raise
    await store


async def _finished(storing: asyncio.Future[None]) -> None:
    """Let a page being stored finish before the reading ends (a failure of the reading, or of a page
    stored, is the one raised); cancelled only when the reading itself is cancelled meanwhile."""
    try:
        await asyncio.wait([storing])
    except asyncio.CancelledError:
        storing.cancel()
        raise
    if not storing.cancelled():
        storing.exception()


def _noting(memory: EmittedInMemory, on_page: OnPage | None) -> OnPage:
    async def noted(position: Position, first_emitted: IdsByObject) -> None:
        memory.add(first_emitted)
        if on_page is not None:
            await on_page(position, first_emitted)

    return noted


async def _by_ids(resource: EntityResource[Any], ids: Sequence[int]) -> list[RecordRow]:
    found: list[RecordRow] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        page = await resource.list_rows(
            ListFilters(ids=ids[start : start + IDS_PER_CALL]), None, IDS_PER_CALL
        )
        found.extend(page.items)
    return found
