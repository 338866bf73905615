"""Import runs: bind the stored request to the account (stages resolved when it was queued, the filter
bound again to the catalog), emit what the reading selects with the import's duplicate handling, and
checkpoint after each page; after a crash the run resumes from the position of its last stored page
(that page's counts, and the organizations and persons it emitted first, stored with it)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from connector.catalog import Catalogs
from connector.import_filters import select_for
from connector.import_paging import IdsByObject, ImportTally, Position, read_import
from connector.import_request import ImportRequest
from connector.incremental import HandedOver, hand_over, store_versions
from connector.run_executor import RunCancelled, RunContext, RunRefused
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, ImportContext
from sync_rules.errors import SyncRuleError

Waiting = tuple[list[HandedOver], Position, IdsByObject]
"""A page handed over and not yet stored: its versions handed over, what it stores with them (position,
counts) and the ids it emitted first."""


class ImportRuns:
    """The work of an import run."""

    def __init__(self, catalogs: Catalogs) -> None:
        self._catalogs = catalogs

    async def __call__(self, context: RunContext) -> None:
        """Emit what the import selects, carrying its duplicate handling."""
        request = ImportRequest.model_validate(context.run.spec)
        try:
            selection = await select_for(self._catalogs, context.tenant, request, context.now())
        except SyncRuleError as refused:
            # The account changed since the import was queued (a field or stage is gone).
            raise RunRefused(str(refused)) from refused
        import_context = ImportContext(
            import_id=context.run.run_id, duplicate_handling=request.duplicate_handling
        )
        tally = ImportTally()
        progress = context.run.progress
        read_before, selected_before = progress.get("read", 0), dict(progress.get("selected", {}))
        handed: list[HandedOver] = []
        cancelled = False

        async def sink(obj: SyncObject, records: Sequence[RecordRow]) -> None:
            if cancelled:
                raise RunCancelled()
            handed.append(await hand_over(context, obj, records, ChangeOrigin.IMPORT, import_context))

        # Pages handed over and waiting for their checkpoint. Pages are stored in order (`read_import`
        # runs a page's store once the page before it is stored); a store takes every page waiting then,
        # handed over since, and writes one checkpoint for them (the last one's position and counts) once
        # all their events are acknowledged: the pages after it find themselves stored.
        waiting: list[Waiting] = []

        def on_page(position: Position, first_emitted: IdsByObject) -> Awaitable[None]:
            # Taken now: the next page may be handed over before this one is stored.
            pages, handed[:] = list(handed), []
            read = read_before + tally.read
            selected = {
                obj: selected_before.get(obj, 0) + tally.selected.get(obj, 0)
                for obj in sorted(selected_before.keys() | tally.selected.keys())
            }
            entry: Waiting = (
                pages,
                {"position": position, "read": read, "selected": selected},
                first_emitted,
            )
            waiting.append(entry)
            return store_from(entry)

        async def store_from(entry: Waiting) -> None:
            if waiting and waiting[0] is entry:  # else stored with a page before it
                batch, waiting[:] = list(waiting), []
                await store(batch)

        async def store(batch: list[Waiting]) -> None:
            nonlocal cancelled
            pages = [page for handed_pages, _, _ in batch for page in handed_pages]
            try:
                for page in pages:
                    await store_versions(context, page)
            finally:
                for page in pages:  # those a failure left unstored
                    await page.discard()
            progress.update(batch[-1][1])
            first_emitted: IdsByObject = {}
            for _, _, first in batch:
                for obj, ids in first.items():
                    first_emitted.setdefault(obj, []).extend(ids)
            try:
                await context.checkpoint(first_emitted)
            except RunCancelled:
                # Pages handed over meanwhile are stored too (their events are out): the run stops after.
                cancelled = True

        async def already_emitted(obj: SyncObject, ids: Sequence[int]) -> set[int]:
            return await context.progress.emitted_by_run(context.run, obj, ids)

        try:
            await read_import(
                context.client,
                selection,
                sink,
                tally,
                page_size=context.options.page_size,
                start=progress.get("position") or {},
                on_page=on_page,
                already_emitted=already_emitted,
            )
        finally:
            # Handed over, never stored: the run failed first.
            for page in [*handed, *(page for pages, _, _ in waiting for page in pages)]:
                await page.discard()
        if cancelled:
            raise RunCancelled()
