"""`/v1/recents`: what changed in the company since a moment, deleted records included (20 tokens a page).

Pipedrive keeps one month of recents; asked for more, it answers from a month back. Items are in API v1
shapes: a deleted record has `active_flag` false (a deal also `deleted` true), times are
`YYYY-MM-DD HH:MM:SS` UTC, and a person that absorbed another in a merge names it in `merge_what_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.http import PipedriveHttp, QueryValue
from pipedrive_client.models import PipedriveModel
from pipedrive_client.shapes import parse_as

RECENTS_REACH = timedelta(days=30)
"""How far back Pipedrive keeps recents (one month; the shortest month is taken to be safe)."""
MAX_RECENTS_PAGE = 500


class RecentItem(PipedriveModel):
    """One change: the kind of item (`organization`, `person`, `deal`, ...), its id and its v1 data."""

    item: str
    id: int
    data: dict[str, Any] | None = None

    @property
    def is_deleted(self) -> bool:
        """Whether the record is deleted (v1 says so with `active_flag`, deals also with `deleted`)."""
        data = self.data or {}
        return data.get("active_flag") is False or True in (data.get("deleted"), data.get("is_deleted"))

    @property
    def update_time(self) -> datetime | None:
        """The record's update time (UTC, whole seconds), when the item carries one."""
        raw = (self.data or {}).get("update_time")
        if not isinstance(raw, str):
            return None
        try:
            return datetime.fromisoformat(raw.replace(" ", "T")).replace(tzinfo=UTC)
        except ValueError:
            return None

    @property
    def merge_what_id(self) -> int | None:
        """For a person: the person last merged into this one."""
        value = (self.data or {}).get("merge_what_id")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class RecentsPage:
    """One page of recents and where the next one starts (None on the last page)."""

    items: list[RecentItem]
    next_start: int | None


def since_timestamp(moment: datetime) -> str:
    """`since_timestamp` as v1 wants it: `YYYY-MM-DD HH:MM:SS` in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class RecentsResource:
    """`GET /v1/recents` of one tenant."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http
        self._endpoint = Endpoint("v1", "GET", "/recents")

    async def page(
        self, since: datetime, items: Sequence[str], start: int = 0, limit: int = MAX_RECENTS_PAGE
    ) -> RecentsPage:
        """The changes of the `items` kinds at or after `since`, from position `start`."""
        query: dict[str, QueryValue | None] = {
            "since_timestamp": since_timestamp(since),
            "items": ",".join(items),
            "start": start,
            "limit": limit,
        }
        answer = await self._http.call(self._endpoint, query=query)
        found: list[RecentItem] = parse_as(list[RecentItem], answer.data or [], "a page of recents")
        return RecentsPage(found, _next_start(answer.additional_data))


def _next_start(additional_data: dict[str, Any]) -> int | None:
    pagination = additional_data.get("pagination") or {}
    if not isinstance(pagination, dict) or not pagination.get("more_items_in_collection"):
        return None
    next_start = pagination.get("next_start")
    if not isinstance(next_start, int) or isinstance(next_start, bool):
        raise UnexpectedResponse("Unexpected response from Pipedrive: recents without a next start")
    return next_start
