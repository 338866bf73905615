"""ABM records read from the ABM store's owner, the mapper, through its HTTP API, so a manual push can name
records by ABM id.

Why the mapper's API and not a copy of the store kept from events: services never read each other's
tables, the mapper publishes no record state (its record results carry outcomes, not fields), and a manual
push is a person's request for at most a thousand records, read in pages of 100. Keeping a replica of
every account and contact in the pusher for that would cost a new contract, storage and lag. The call is
made with the caller's own API key, so the mapper scopes it to the same tenant with no service credential.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from schemas.events.common import SyncObject

PAGE = 100
COLLECTIONS: Mapping[SyncObject, str] = {
    SyncObject.ORGANIZATION: "accounts",
    SyncObject.PERSON: "contacts",
    SyncObject.DEAL: "opportunities",
}


class AbmStoreUnavailable(Exception):
    """The mapper did not answer as its API says: the records cannot be read now."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"The ABM store (mapper) could not be read: {detail}")


@dataclass(frozen=True)
class AbmRecord:
    """An ABM record as a push needs it: its match key and its fields by ABM field name."""

    abm_id: str
    match_key: str | None
    fields: Mapping[str, Any]


class AbmRecords:
    """Reads records of the caller's tenant from the mapper's API."""

    def __init__(self, session: aiohttp.ClientSession, mapper_url: str) -> None:
        self._session = session
        self._base = mapper_url.rstrip("/")

    async def by_ids(
        self, obj: SyncObject, abm_ids: Sequence[str], authorization: str
    ) -> dict[str, AbmRecord]:
        """The records among `abm_ids` that exist for the caller's tenant (missing ones are absent)."""
        found: dict[str, AbmRecord] = {}
        wanted = list(dict.fromkeys(abm_ids))
        for start in range(0, len(wanted), PAGE):
            page = wanted[start : start + PAGE]
            rows = await self._page(obj, page, authorization)
            found.update((r.abm_id, r) for r in rows)
        return found

    async def _page(self, obj: SyncObject, abm_ids: list[str], authorization: str) -> list[AbmRecord]:
        url = f"{self._base}/v1/{COLLECTIONS[obj]}"
        params = {"ids": ",".join(abm_ids), "limit": str(PAGE)}
        try:
            async with self._session.get(
                url, params=params, headers={"Authorization": authorization}
            ) as response:
                if response.status != 200:
                    raise AbmStoreUnavailable(f"HTTP {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as failure:
            raise AbmStoreUnavailable(type(failure).__name__) from failure
        try:
            return [AbmRecord(str(r["abm_id"]), r.get("match_key"), dict(r["fields"])) for r in body["data"]]
        except (KeyError, TypeError) as failure:
            raise AbmStoreUnavailable("an unexpected answer") from failure
