"""`read_ahead`: pages in order, read ahead of the caller by `depth`, a repeated cursor refused before its
page is yielded, reads in flight cancelled when the caller stops."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.pagination import Page, read_ahead


class Listing:
    """Pages 0..count-1, each answered when the test lets it (`answer`), the calls noted."""

    def __init__(self, count: int, cursors: list[str | None] | None = None) -> None:
        self.asked: list[str | None] = []
        self.cancelled = 0
        self._cursors = cursors or [f"c{i + 1}" for i in range(count - 1)] + [None]

    async def fetch(self, cursor: str | None) -> Page[int]:
        self.asked.append(cursor)
        index = len(self.asked) - 1
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return Page([index], self._cursors[index])


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.parametrize("depth", [1, 2, 3])
async def test_every_page_is_yielded_once_in_order_at_any_depth(depth: int) -> None:
    listing = Listing(5)
    async with aclosing(read_ahead(listing.fetch, depth=depth)) as pages:
        got = [page.items[0] async for page in pages]
    assert got == [0, 1, 2, 3, 4]
    assert listing.asked == [None, "c1", "c2", "c3", "c4"]


@pytest.mark.parametrize("depth", [1, 2])
async def test_the_reading_runs_depth_pages_ahead_of_the_caller(depth: int) -> None:
    listing = Listing(6)
    async with aclosing(read_ahead(listing.fetch, "c0", depth=depth)) as pages:
        first = await anext(pages)
        await _settle()  # the caller holds the first page: the reading goes on up to `depth` pages ahead
        assert first.items == [0]
        assert len(listing.asked) == 1 + depth
        await anext(pages)
        await _settle()
        assert len(listing.asked) == 2 + depth


async def test_a_repeated_cursor_fails_before_its_page_is_yielded() -> None:
    listing = Listing(3, cursors=["a", "a", None])
    got: list[int] = []
    with pytest.raises(UnexpectedResponse):
        async with aclosing(read_ahead(listing.fetch, depth=2)) as pages:
            async for page in pages:
                got.extend(page.items)
    assert got == [0]


async def test_stopping_early_cancels_the_reads_in_flight() -> None:
    listing = Listing(10)
    async with aclosing(read_ahead(listing.fetch, depth=2)) as pages:
        async for page in pages:
            if page.items == [1]:
                break
    assert listing.cancelled <= 1
    await _settle()
    assert len(listing.asked) <= 4, "nothing read after the caller stopped"


async def test_a_failed_read_is_raised_to_the_caller_after_the_pages_before_it() -> None:
    asked = 0

    async def fetch(cursor: str | None) -> Page[int]:
        nonlocal asked
        asked += 1
        if asked == 3:
            raise ConnectionError("gone")
        return Page([asked], f"c{asked}")

    got: list[int] = []
    with pytest.raises(ConnectionError):
        async with aclosing(read_ahead(fetch, depth=2)) as pages:
            async for page in pages:
                got.extend(page.items)
    assert got == [1, 2]


async def test_a_depth_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        await anext(read_ahead(Listing(1).fetch, depth=0))
