"""Typed resources over API v2 organizations, persons and deals (plus their v1 merge)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.filters import ListFilters
from pipedrive_client.http import ApiAnswer, ChargingAhead, PipedriveHttp
from pipedrive_client.models import DeletedRecord, MergeResult, Record, SearchHit, SearchResult
from pipedrive_client.pagination import MAX_PAGE_SIZE, Page, iterate_pages, next_cursor_of
from pipedrive_client.rows import RecordRow, rows_of
from pipedrive_client.shapes import parse_as

R = TypeVar("R", bound=Record)


class EntityResource(Generic[R]):
    """One v2 entity (`organizations`, `persons` or `deals`) read and written as `model`."""

    def __init__(self, http: PipedriveHttp, entity: str, model: type[R]) -> None:
        self._http = http
        self._entity = entity
        self._model = model
        collection, one = f"/{entity}", f"/{entity}/{{id}}"
        self._list = Endpoint("v2", "GET", collection)
        self._create = Endpoint("v2", "POST", collection)
        self._get = Endpoint("v2", "GET", one)
        self._patch = Endpoint("v2", "PATCH", one)
        self._delete = Endpoint("v2", "DELETE", one)
        self._search = Endpoint("v2", "GET", f"{collection}/search")
        self._merge = Endpoint("v1", "PUT", f"{one}/merge")

    async def list_page(
        self, filters: ListFilters | None = None, cursor: str | None = None, limit: int = MAX_PAGE_SIZE
    ) -> Page[R]:
        """One page of the list (pages of 500 by default); pass the previous page's `next_cursor`."""
        answer = await self._list_call(filters, cursor, limit)
        items: list[R] = [parse_as(self._model, item, f"a page of {self._entity}") for item in answer.data]
        return Page(items, next_cursor_of(answer.additional_data))

    async def list_rows(
        self, filters: ListFilters | None = None, cursor: str | None = None, limit: int = MAX_PAGE_SIZE
    ) -> Page[RecordRow]:
        """One page of the list as `list_page` reads it, each record as a row (its id, update time and
        attributes as the model dumps them to JSON), without a model per record when none is needed."""
        page = await self.list_items(filters, cursor, limit)
        return Page(self.rows(page.items), page.next_cursor)

    async def list_items(
        self,
        filters: ListFilters | None = None,
        cursor: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        ahead: ChargingAhead | None = None,
    ) -> Page[Any]:
        """One page of the list as `list_rows` reads it, its records still as parsed from the answer:
        `rows` reads (or refuses) them. The next page's cursor is known before the records are read.
        With `ahead` (`charging_ahead`), the call is charged as that series charged it."""
        answer = await self._list_call(filters, cursor, limit, ahead)
        return Page(answer.data, next_cursor_of(answer.additional_data))

    def rows(self, items: Sequence[Any]) -> list[RecordRow]:
        """Records of a page (`list_items`) as rows, as `list_rows` gives them; the first record the
        model refuses raises `UnexpectedResponse`."""
        return rows_of(self._model, items, f"a page of {self._entity}")

    def charging_ahead(self) -> ChargingAhead:
        """A series of list calls (a listing's pages, `list_items`) each charged while the one before it
        travels, once its reader asks for it (`read_ahead`'s `ready_for_next`); leave it with `async with`."""
        return ChargingAhead(self._http, self._list)

    async def _list_call(
        self, filters: ListFilters | None, cursor: str | None, limit: int, ahead: ChargingAhead | None = None
    ) -> ApiAnswer:
        """The list call's answer, its data checked to be a list."""
        query = {**(filters or ListFilters()).as_query(self._entity), "limit": limit, "cursor": cursor}
        answer = await (ahead.call(query=query) if ahead else self._http.call(self._list, query=query))
        if not isinstance(answer.data, list):
            raise UnexpectedResponse(
                f"Unexpected response from Pipedrive: a page of {self._entity} is not a list"
            )
        return answer

    def iterate(self, filters: ListFilters | None = None) -> AsyncIterator[Page[R]]:
        """Every page of the list in order, following cursors to the end."""
        return iterate_pages(lambda cursor: self.list_page(filters, cursor))

    async def get(self, record_id: int) -> R:
        """One record by id (`NotFound` when it does not exist)."""
        answer = await self._http.call(self._get, {"id": record_id})
        return parse_as(self._model, answer.data, f"a record of {self._entity}")

    async def create(self, attributes: Mapping[str, Any]) -> R:
        """Create a record (not retried on ambiguous failures: the caller guards against duplicates)."""
        answer = await self._http.call(self._create, body=attributes)
        return parse_as(self._model, answer.data, f"a created record of {self._entity}")

    async def update(self, record_id: int, attributes: Mapping[str, Any]) -> R:
        """Patch the given attributes of a record."""
        answer = await self._http.call(self._patch, {"id": record_id}, body=attributes)
        return parse_as(self._model, answer.data, f"an updated record of {self._entity}")

    async def delete(self, record_id: int) -> int:
        """Soft-delete a record; returns its id."""
        answer = await self._http.call(self._delete, {"id": record_id})
        return parse_as(DeletedRecord, answer.data, f"a deleted record of {self._entity}").id

    async def search(
        self, term: str, fields: Sequence[str] | None = None, exact_match: bool = False, limit: int = 100
    ) -> list[SearchHit]:
        """The first page of search hits (20 tokens and its own burst limit: prefer a local mirror)."""
        query = {
            "term": term,
            "fields": ",".join(fields) if fields else None,
            "exact_match": exact_match or None,
            "limit": limit,
        }
        answer = await self._http.call(self._search, query=query)
        return parse_as(SearchResult, answer.data, f"a search of {self._entity}").items

    async def merge(self, record_id: int, merge_with_id: int) -> int:
        """Merge `record_id` into `merge_with_id` (v1; the first is deleted); returns the survivor's id."""
        answer = await self._http.call(self._merge, {"id": record_id}, body={"merge_with_id": merge_with_id})
        return parse_as(MergeResult, answer.data, f"a merge of {self._entity}").id
