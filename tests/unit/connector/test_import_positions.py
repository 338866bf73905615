"""Where an import resumes: a position stored after the last page leaves nothing to read. Read again from
the first page, a run interrupted between storing its last page and closing would emit every record again
and count each twice (its RunFinished then says twice as many changes as the mapper can ever apply, and
the apply run is never reported: issue #14 item 8)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, cast

import pytest

from connector.import_filters import ImportSelection
from connector.import_paging import ImportTally, Position, pages_left, read_import
from pipedrive_client import ListFilters, PipedriveClient
from pipedrive_client.models import Organization
from pipedrive_client.pagination import Page
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject

PAGES = {None: ("c1", [1, 2]), "c1": ("c2", [3, 4]), "c2": (None, [5])}
"""A listing of five organizations on three pages: cursor -> (next cursor, ids)."""


class _NothingCharged:
    """`ChargingAhead` without a budget."""

    def start_next(self) -> None:
        pass

    async def __aenter__(self) -> _NothingCharged:
        return self

    async def __aexit__(self, *_: object) -> None:
        pass


class _Organizations:
    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def charging_ahead(self) -> _NothingCharged:
        return _NothingCharged()

    async def list_items(
        self, filters: ListFilters | None, cursor: str | None, limit: int, ahead: Any = None
    ) -> Page[Any]:
        self.calls.append(cursor)
        next_cursor, ids = PAGES[cursor]
        return Page([{"id": i, "name": f"org {i}"} for i in ids], next_cursor)

    def rows(self, items: Sequence[Any]) -> list[RecordRow]:
        return [RecordRow.of(Organization.model_validate(item)) for item in items]


class _Client:
    def __init__(self) -> None:
        self.organizations = _Organizations()
        self.persons = self.deals = None  # never listed by an organization import


async def _read_from(start: Position) -> tuple[list[int], list[str | None], list[Position]]:
    """(ids handed to the sink, cursors listed, positions stored) of an organization import from `start`."""
    client, sunk, stored = _Client(), list[int](), list[Position]()

    async def sink(obj: SyncObject, records: Sequence[RecordRow]) -> None:
        sunk.extend(r.id for r in records)

    async def on_page(position: Position, first_emitted: Any) -> None:
        stored.append(position)

    await read_import(
        cast(PipedriveClient, client),
        ImportSelection(SyncObject.ORGANIZATION),
        sink,
        ImportTally(),
        page_size=2,
        start=start,
        on_page=on_page,
    )
    return sunk, client.organizations.calls, stored


def test_a_listing_has_pages_left_until_the_page_without_a_next_cursor_is_stored() -> None:
    assert pages_left({})
    assert pages_left({"page_cursor": "c1"})
    assert not pages_left({"page_cursor": None})


def test_a_deal_import_has_pages_left_until_its_last_stage_is_read_whole() -> None:
    assert pages_left({"stage_index": 0, "page_cursor": None}, listings=2)
    assert pages_left({"stage_index": 1, "page_cursor": "c1"}, listings=2)
    assert not pages_left({"stage_index": 2, "page_cursor": None}, listings=2)


async def test_an_import_reads_every_page_once_and_stores_a_position_past_the_last() -> None:
    sunk, listed, stored = await _read_from({})
    assert sunk == [1, 2, 3, 4, 5]
    assert listed == [None, "c1", "c2"]
    assert stored[-1] == {"page_cursor": None}


async def test_an_import_resumed_after_its_last_page_was_stored_reads_nothing_again() -> None:
    sunk, listed, stored = await _read_from({"page_cursor": None})
    assert (sunk, listed, stored) == ([], [], [])


async def test_an_import_resumed_midway_reads_the_pages_after_the_stored_one() -> None:
    sunk, listed, _ = await _read_from({"page_cursor": "c2"})
    assert (sunk, listed) == ([5], ["c2"])


async def test_a_page_is_handed_over_while_the_page_before_it_is_stored_and_pages_are_stored_in_order() -> (
    None
):
    client, steps = _Client(), list[str]()
    first_stored = asyncio.Event()

    async def sink(obj: SyncObject, records: Sequence[RecordRow]) -> None:
        steps.append(f"handed {[r.id for r in records]}")

    def on_page(position: Position, first_emitted: Any) -> Awaitable[None]:
        taken = position["page_cursor"]  # what a page stores is taken when it is handed over

        async def store() -> None:
            steps.append(f"storing {taken}")
            if taken == "c1":
                await asyncio.sleep(0.05)  # a slow checkpoint: the next page is handed over meanwhile
                first_stored.set()
            steps.append(f"stored {taken}")

        return store()

    await read_import(
        cast(PipedriveClient, client),
        ImportSelection(SyncObject.ORGANIZATION),
        sink,
        ImportTally(),
        page_size=2,
        on_page=on_page,
    )
    assert first_stored.is_set()
    assert steps.index("handed [3, 4]") < steps.index("stored c1"), steps
    stored = [s for s in steps if s.startswith("stored")]
    assert stored == ["stored c1", "stored c2", "stored None"]
    assert (
        steps.index("stored c1")
        < steps.index("storing c2")
        < steps.index("stored c2")
        < steps.index("storing None")
    )


async def test_a_failed_page_store_ends_the_reading_with_its_error_and_no_later_page_is_stored() -> None:
    client, stored = _Client(), list[str | None]()

    async def sink(obj: SyncObject, records: Sequence[RecordRow]) -> None:
        pass

    async def on_page(position: Position, first_emitted: Any) -> None:
        if position["page_cursor"] == "c2":
            raise ConnectionError("the checkpoint failed")
        stored.append(position["page_cursor"])

    with pytest.raises(ConnectionError):
        await read_import(
            cast(PipedriveClient, client),
            ImportSelection(SyncObject.ORGANIZATION),
            sink,
            ImportTally(),
            page_size=2,
            on_page=on_page,
        )
    assert stored == ["c1"], "no page after the failed one is stored"
