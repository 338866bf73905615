"""An import's preview: read what it selects (the import's own reading, nothing emitted) and ask the
mapper what its changes would do, by a dry run of the mapper's own planning against the ABM store
(`POST /v1/import-plans` of the mapper's API, streamed page by page while Pipedrive is read): created,
updated, unchanged, skipped (with the reasons) and failed, per object, for each duplicate handling.

Services never read each other's tables: the connector only streams the changes the import would emit and
the mapper answers with its own rule book. The caller's API key goes along, so the mapper answers for the
same tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from connector.import_filters import ImportSelection
from connector.import_paging import ImportTally, read_import
from connector.source_events import upserted
from pipedrive_client import PipedriveClient
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, DuplicateHandling, ImportContext, SourceChange

PREVIEW_IMPORT_ID = "preview"
NO_UPDATE_TIME = "No update time in Pipedrive's answer"
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")


class ImportPlansFailed(Exception):
    """The mapper could not plan the import (unreachable, or it refused the changes)."""


Batches = AsyncIterator[Sequence[SourceChange]]
Planner = Callable[[str, Sequence[DuplicateHandling], Batches], Awaitable[dict[str, Any]]]
"""Plans an import's changes for the caller's key and the handlings: the mapper's answer."""


class MapperImportPlans:
    """The mapper's dry-run API, called with the caller's tenant key."""

    def __init__(self, session: aiohttp.ClientSession, mapper_url: str, timeout_s: float = 600.0) -> None:
        self._session = session
        self._url = mapper_url.rstrip("/") + "/v1/import-plans"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def __call__(
        self, authorization: str, handlings: Sequence[DuplicateHandling], batches: Batches
    ) -> dict[str, Any]:
        """Stream the changes as newline-delimited JSON; the mapper's counts."""

        async def body() -> AsyncIterator[bytes]:
            yield orjson.dumps({"duplicate_handlings": [h.value for h in handlings]}) + b"\n"
            async for batch in batches:
                yield b"".join(c.model_dump_json().encode() + b"\n" for c in batch)

        headers = {"Authorization": authorization, "Content-Type": "application/x-ndjson"}
        try:
            async with self._session.post(
                self._url, data=body(), headers=headers, timeout=self._timeout
            ) as reply:
                answer = await reply.read()
                if reply.status != 200:
                    raise ImportPlansFailed(
                        f"the mapper answered {reply.status}: {answer[:300].decode(errors='replace')}"
                    )
                planned: dict[str, Any] = orjson.loads(answer)
                return planned
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as failure:
            raise ImportPlansFailed(f"the mapper did not answer: {type(failure).__name__}") from failure


def preview_change(obj: SyncObject, record: RecordRow, handling: DuplicateHandling) -> SourceChange | None:
    """The change an import would emit for a record (None when Pipedrive gave it no update time: the
    import counts it failed)."""
    if record.update_time is None:
        return None
    context = ImportContext(import_id=PREVIEW_IMPORT_ID, duplicate_handling=handling)
    stamp = record.update_time.replace(microsecond=0)
    return upserted(obj, record.values, stamp, ChangeOrigin.IMPORT, context)


@dataclass
class Preview:
    """What a preview found: the reading's tally, undated records per object, and the mapper's plan."""

    tally: ImportTally
    undated: dict[str, int]
    planned: dict[str, Any]

    def outcomes(self, handling: DuplicateHandling) -> dict[str, dict[str, Any]]:
        """Per object: the outcome counts and skip reasons under one duplicate handling."""
        by_object = self.planned.get("by_duplicate_handling", {}).get(handling.value, {})
        found: dict[str, dict[str, Any]] = {}
        for obj in sorted(set(self.tally.selected) | set(by_object)):
            planned = by_object.get(obj, {})
            counts: dict[str, Any] = {outcome: int(planned.get(outcome, 0)) for outcome in OUTCOMES}
            reasons = dict(planned.get("reasons", {}))
            if self.undated.get(obj):
                counts["failed"] += self.undated[obj]
                reasons[NO_UPDATE_TIME] = self.undated[obj]
            found[obj] = {**counts, "reasons": reasons}
        return found


async def preview_import(
    client: PipedriveClient,
    selection: ImportSelection,
    planner: Planner,
    authorization: str,
    *,
    page_size: int,
) -> Preview:
    """Read the import's pages while the mapper plans their changes under every duplicate handling;
    raises the client's errors (reading) or `ImportPlansFailed` (planning)."""
    handlings = list(DuplicateHandling)
    tally, undated = ImportTally(), dict[str, int]()
    pages: asyncio.Queue[list[SourceChange] | None] = asyncio.Queue(maxsize=4)

    async def sink(obj: SyncObject, records: Sequence[RecordRow]) -> None:
        changes = [preview_change(obj, r, handlings[0]) for r in records]
        undated[obj.value] = undated.get(obj.value, 0) + changes.count(None)
        await pages.put([c for c in changes if c is not None])

    async def read() -> None:
        try:
            await read_import(client, selection, sink, tally, page_size=page_size)
        finally:
            await pages.put(None)

    async def batches() -> Batches:
        while (page := await pages.get()) is not None:
            if page:
                yield page

    reading = asyncio.create_task(read())
    try:
        planned = await planner(authorization, handlings, batches())
    except BaseException:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        raise
    if not reading.done():  # the mapper answered before the last change reached it
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        raise ImportPlansFailed("the mapper answered before it was sent every change")
    await reading  # the reading's failure, if any, is the answer
    return Preview(tally, undated, planned)
