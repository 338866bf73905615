"""Cursor pagination of API v2 lists: pages of up to 500, `additional_data.next_cursor` null at the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipedrive_client.errors import UnexpectedResponse

T = TypeVar("T")
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: its items and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


async def iterate_pages(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """Yield every page from the first one; stops at a null cursor, fails on a cursor that repeats."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = await fetch(cursor)
        yield page
        if page.next_cursor is None:
            return
        if page.next_cursor in seen:
            raise UnexpectedResponse("Unexpected response from Pipedrive: a page cursor repeated")
        seen.add(page.next_cursor)
        cursor = page.next_cursor


async def read_ahead(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    cursor: str | None = None,
    *,
    depth: int = 1,
    ready_for_next: Callable[[], object] | None = None,
) -> AsyncGenerator[Page[T], None]:
    """Yield every page from `cursor` on, reading ahead of the caller while it works on a page.

    `depth` pages are read ahead (read, or being read, and not yet taken by the caller). With 1, the next
    page is read while the caller works on this one, so a run of pages costs the longer of the two per
    page, not their sum. With 2, the page after the next is asked as soon as the next one's answer (its
    cursor) is in: the reading follows the cursors back to back and never waits for a caller that is
    still on the page before (a list's pages are read one after the other: each cursor comes with the
    page before it). Reads in flight are cancelled when the caller stops early (close the iterator, e.g.
    with `contextlib.aclosing`); they may have been sent and charged by then. Fails on a cursor that
    repeats, as `iterate_pages`, before the page that repeats it is yielded.

    `ready_for_next()` is called while a page is read once the page after it has its place among the
    `depth` (the caller took enough pages): that page will be asked as soon as this one's cursor is in,
    unless this one is the last (`ChargingAhead.start_next`: its charge made meanwhile).
    """
    if depth < 1:
        raise ValueError("read_ahead needs a depth of at least 1")
    slots = asyncio.Semaphore(depth)
    ready: asyncio.Queue[Page[T] | BaseException] = asyncio.Queue()

    async def reading() -> None:
        seen: set[str] = set()
        next_cursor = cursor
        slot: asyncio.Task[bool] | None = None
        try:
            await slots.acquire()
            while True:
                # The next page's place, taken while this one is read.
                slot = next_slot = asyncio.ensure_future(slots.acquire())
                if ready_for_next is not None:
                    next_slot.add_done_callback(lambda done: done.cancelled() or ready_for_next())
                page = await fetch(next_cursor)
                if page.next_cursor is not None and page.next_cursor in seen:
                    raise UnexpectedResponse("Unexpected response from Pipedrive: a page cursor repeated")
                ready.put_nowait(page)
                if page.next_cursor is None:
                    return
                seen.add(page.next_cursor)
                next_cursor = page.next_cursor
                await next_slot
        except Exception as failure:
            ready.put_nowait(failure)
        finally:
            if slot is not None:
                slot.cancel()

    reader = asyncio.ensure_future(reading())
    try:
        while True:
            item = await ready.get()
            if isinstance(item, BaseException):
                raise item
            slots.release()
            yield item
            if item.next_cursor is None:
                return
    finally:
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


def next_cursor_of(additional_data: dict[str, object]) -> str | None:
    """`additional_data.next_cursor` as a string or None; anything else is an `UnexpectedResponse`."""
    cursor = additional_data.get("next_cursor")
    if cursor is None or (isinstance(cursor, str) and cursor):
        return cursor
    raise UnexpectedResponse("Unexpected response from Pipedrive: a malformed page cursor")
