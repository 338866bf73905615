"""Cursor pagination of API v2 lists: pages of up to 500, `additional_data.next_cursor` null at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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


def next_cursor_of(additional_data: dict[str, object]) -> str | None:
    """`additional_data.next_cursor` as a string or None; anything else is an `UnexpectedResponse`."""
    cursor = additional_data.get("next_cursor")
    if cursor is None or (isinstance(cursor, str) and cursor):
        return cursor
    raise UnexpectedResponse("Unexpected response from Pipedrive: a malformed page cursor")
