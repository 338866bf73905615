"""API v2 activities: adding one (a done activity records something that happened) and listing them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.http import PipedriveHttp
from pipedrive_client.models import PipedriveModel
from pipedrive_client.pagination import MAX_PAGE_SIZE, Page, iterate_pages, next_cursor_of
from pipedrive_client.shapes import parse_as

_LIST = Endpoint("v2", "GET", "/activities")
_ADD = Endpoint("v2", "POST", "/activities")


class Activity(PipedriveModel):
    """A v2 activity (only what callers rely on is typed)."""

    id: int
    subject: str
    type: str | None = None
    done: bool = False
    org_id: int | None = None
    person_id: int | None = None
    deal_id: int | None = None
    due_date: str | None = None
    note: str | None = None
    add_time: str | None = None


class ActivitiesResource:
    """`/api/v2/activities`."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def add(self, attributes: Mapping[str, Any]) -> Activity:
        """Add an activity (a POST: not retried after an ambiguous failure, the caller guards it)."""
        answer = await self._http.call(_ADD, body=attributes)
        return parse_as(Activity, answer.data, "an added activity")

    async def list_page(
        self, org_id: int | None = None, cursor: str | None = None, limit: int = MAX_PAGE_SIZE
    ) -> Page[Activity]:
        """One page of activities (of one organization when `org_id` is given)."""
        query = {"org_id": org_id, "cursor": cursor, "limit": limit}
        answer = await self._http.call(_LIST, query=query)
        if not isinstance(answer.data, list):
            raise UnexpectedResponse("Unexpected response from Pipedrive: a page of activities is not a list")
        return Page(
            parse_as(list[Activity], answer.data, "a page of activities"),
            next_cursor_of(answer.additional_data),
        )

    def of_organization(self, org_id: int) -> AsyncIterator[Page[Activity]]:
        """Every page of one organization's activities."""
        return iterate_pages(lambda cursor: self.list_page(org_id, cursor))
