"""Retry runs: the failed records of an earlier run read again from Pipedrive by id and emitted as a new
run (`POST /v1/retries`, which the auditlog's `POST /v1/runs/{id}/retry` calls).

The request names the run it retries and which retry it is; the run id both sides use is
`schemas.events.sync_runs.retry_run_id(of, attempt)`, so the same retry asked twice is one run. The
changes carry an import context of the retry run (an import's retry keeps the import's duplicate
handling, a sync's updates what exists, as a sync does): their event ids are the retry's own, so the
mapper applies them again even where the first run's events were dead-lettered. A record Pipedrive no
longer has (or has deleted) cannot be read: it counts as failed (a sync reports its deletion).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.incremental import emit_versions, resource_of
from connector.queued_runs import Run, RunKindName
from connector.run_executor import RunContext
from pipedrive_client import NotFound
from pipedrive_client.rows import RecordRow
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, DuplicateHandling, ImportContext
from schemas.events.sync_runs import RunKind

MAX_RECORDS = 1000


class RetryOf(BaseModel):
    """The run whose failed records are read again, and which retry of it this is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    of: str = Field(min_length=1, max_length=300, pattern=r"^[^\s/]+$")
    attempt: int = Field(ge=1, le=10_000)


class RecordToRead(BaseModel):
    """One Pipedrive record, by object and id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: SyncObject
    pipedrive_id: int = Field(ge=1, le=2**63 - 1)


class RetryRequest(BaseModel):
    """The body of `POST /v1/retries`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryOf
    records: tuple[RecordToRead, ...] = Field(min_length=1, max_length=MAX_RECORDS)


def retry_spec(request: RetryRequest, first: Run | None) -> dict[str, object]:
    """What the retry run stores: the records, and how the first run's changes were applied (an import's
    duplicate handling; a sync or webhook window updates what exists)."""
    is_import = first is not None and first.kind is RunKindName.IMPORT
    handling = first.spec.get("duplicate_handling") if first is not None and is_import else None
    return {
        "retry_of": request.retry.of,
        "as_kind": RunKind.IMPORT.value if is_import else RunKind.SYNC.value,
        "duplicate_handling": handling or DuplicateHandling.UPDATE_EXISTING.value,
        "objects": sorted({r.object.value for r in request.records}),
        "records": [r.model_dump(mode="json") for r in request.records],
    }


async def reread_records(context: RunContext) -> None:
    """Read each record of the retry by id and emit what was read, one object at a time."""
    spec = context.run.spec
    wanted = [RecordToRead.model_validate(r) for r in spec["records"]]
    import_context = ImportContext(
        import_id=context.run.run_id, duplicate_handling=DuplicateHandling(spec["duplicate_handling"])
    )
    origin = ChangeOrigin.IMPORT if spec["as_kind"] == RunKind.IMPORT.value else ChangeOrigin.POLL
    for obj in SyncObject:
        ids = [r.pipedrive_id for r in wanted if r.object is obj]
        if not ids:
            continue
        records: list[RecordRow] = []
        for record_id in ids:
            try:
                found = await resource_of(context, obj).get(record_id)
            except NotFound:
                context.run.counts.failed += 1
                continue
            if found.is_deleted:
                context.run.counts.failed += 1
            else:
                records.append(RecordRow.of(found))
        await emit_versions(context, obj, records, origin, import_context)
        await context.checkpoint()
