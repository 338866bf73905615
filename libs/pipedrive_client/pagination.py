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
    fetch: Callable[[str | None], Awaitable[Page[T]]], cursor: str | None = None
) -> AsyncGenerator[Page[T], None]:
    """Yield every page from `cursor` on, reading the next page while the caller works on this one.

    The caller's work on a page (emitting it, storing its position) overlaps the next read, so a run of
    pages costs the longer of the two per page, not their sum. The next read is cancelled when the
    caller stops early (close the iterator, e.g. with `contextlib.aclosing`); it may have been sent and
    charged by then. Fails on a cursor that repeats, as `iterate_pages`.
    """
    seen: set[str] = set()
    pending = asyncio.ensure_future(fetch(cursor))
    try:
        while True:
            page = await pending
            if page.next_cursor is None:
                yield page
                return
            if page.next_cursor in seen:
                raise UnexpectedResponse("Unexpected response from Pipedrive: a page cursor repeated")
            seen.add(page.next_cursor)
            pending = asyncio.ensure_future(fetch(page.next_cursor))
            yield page
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending


def next_cursor_of(additional_data: dict[str, object]) -> str | None:
    """`additional_data.next_cursor` as a string or None; anything else is an `UnexpectedResponse`."""
    cursor = additional_data.get("next_cursor")
    if cursor is None or (isinstance(cursor, str) and cursor):
        return cursor
    raise UnexpectedResponse("Unexpected response from Pipedrive: a malformed page cursor")
