"""Pushing one record into Pipedrive: match, plan, and write at most once.

A create is guarded by the push ledger: the intent is committed before the POST. When an intent has no
result (a crash or an ambiguous failure came between the POST and the record of its result), the mirror
and, if it cannot answer, Pipedrive are asked for the record by match key before anything is created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipedrive_client import BudgetExhausted, InvalidApiKey, NotFound, RateLimitExceeded, RequestRejected
from pusher.auto_push import RecordPush
from pusher.mirror import follow_merges, mirror_match_key
from pusher.pipedrive_writes import added_since, update_time_of
from pusher.planning import LastPush, PipedriveRecord, PushAction, PushInput, owner_email_of, plan_push
from pusher.ports import PipedriveWriter, PusherStore, PusherUnit
from pusher.push_ledger import LedgerEntry
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import FieldMode, TenantSettings
from sync_rules.duplicates import DUPLICATE_FOUND
from sync_rules.mapping_resolution import push_mappings
from sync_rules.mappings import FieldMapping

NO_MATCH_KEY = "No usable match key"
GONE_IN_PIPEDRIVE = "Deleted in CRM: Pipedrive no longer has this record (404); nothing more is sent for it"
_REFUSED_BEFORE_CREATING = (BudgetExhausted, InvalidApiKey, RateLimitExceeded, RequestRejected)


class UpdateRejected(RequestRejected):
    """Pipedrive refused the update of the record it holds as `pipedrive_id`: the push fails, and its
    result names that record (the activity log shows which Pipedrive record the refusal was about)."""

    def __init__(self, rejected: RequestRejected, pipedrive_id: int) -> None:
        super().__init__(str(rejected))
        self.pipedrive_id = pipedrive_id


@dataclass(frozen=True)
class PushDone:
    """One record's outcome, with what to remember: the record as Pipedrive answered, the body written."""

    object: SyncObject
    match_key: str | None
    outcome: RecordOutcome
    pipedrive_id: int | None = None
    fields_written: tuple[str, ...] = ()
    message: str | None = None
    record: Mapping[str, Any] | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    deleted_in_pipedrive: bool = False  # Pipedrive answered 404 for `pipedrive_id` in this push


class RecordPusher:
    """Carries out pushes of single records for the handlers and the manual-push preview."""

    def __init__(self, store: PusherStore, *, after_create: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._after_create = after_create

    async def entry(self, tenant: str, obj: SyncObject, match_key: str) -> LedgerEntry | None:
        """The record's ledger entry (read once per push: `push_with_entry` and `plan` take it)."""
        async with self._store.view() as view:
            return await view.ledger.entry(tenant, obj, match_key)

    async def plan(
        self,
        tenant: str,
        job: RecordPush,
        entry: LedgerEntry | None,
        settings: TenantSettings | None,
        writes: PipedriveWriter | None,
        *,
        manual: bool,
        extra_mappings: tuple[FieldMapping, ...] = (),
        users_by_email: Mapping[str, int] | None = None,
    ) -> PushInput:
        """What the push is decided from: ledger, mirror, and users only when an owner is mapped (read
        through `writes`, unless the caller read them already: `users_by_email`)."""
        assert job.match_key is not None
        async with self._store.view() as view:
            linked = None
            if entry is not None and entry.pipedrive_id is not None:
                linked = await follow_merges(view.mirror, tenant, job.object, entry.pipedrive_id)
            key_match = await view.mirror.by_match_key(tenant, job.object, job.match_key)
            if linked is None and key_match is None:
                # Pipedrive deleted (or merged away) the record holding this key: never re-created by
                # auto-push; a merged one's survivor is updated instead.
                gone = await view.mirror.gone_by_match_key(tenant, job.object, job.match_key)
                if gone is not None:
                    linked = await follow_merges(view.mirror, tenant, job.object, gone.pipedrive_id)
        if linked is None and entry is not None and entry.pipedrive_id is not None and writes is not None:
            record = await writes.get(job.object, entry.pipedrive_id)
            linked = PipedriveRecord(
                entry.pipedrive_id, record or {}, deleted=record is None, answered_404=record is None
            )
        users = users_by_email
        if users is None:
            users = await writes.users_by_email() if writes and needs_pipedrive_users(job, settings) else {}
        return PushInput(
            job.object, job.match_key, job.fields, settings, linked, key_match, manual, users, extra_mappings,
            abm_changed_at=job.changed_at, last_push=last_push_of(entry),
        )  # fmt: skip

    async def push(
        self,
        tenant: str,
        job: RecordPush,
        settings: TenantSettings | None,
        writes: PipedriveWriter,
        *,
        manual: bool,
        extra_mappings: tuple[FieldMapping, ...] = (),
    ) -> PushDone:
        """Push one record (call under the store's `record_lock`); raises the client's errors for the
        caller to pause on (429, exhausted budget, Pipedrive down) or report (revoked token)."""
        if job.match_key is None:
            return PushDone(job.object, None, RecordOutcome.SKIPPED, message=NO_MATCH_KEY)
        entry = await self.entry(tenant, job.object, job.match_key)
        return await self.push_with_entry(
            tenant, job, entry, settings, writes, manual=manual, extra_mappings=extra_mappings
        )

    async def push_with_entry(
        self,
        tenant: str,
        job: RecordPush,
        entry: LedgerEntry | None,
        settings: TenantSettings | None,
        writes: PipedriveWriter,
        *,
        manual: bool,
        extra_mappings: tuple[FieldMapping, ...] = (),
    ) -> PushDone:
        """`push`, with the record's ledger entry read already (under the same record lock)."""
        assert job.match_key is not None
        if entry is not None and entry.unresolved_intent:
            resolved = await self._resolve_intent(tenant, job, entry, settings, writes)
            if resolved is not None:
                return resolved
        given = await self.plan(
            tenant, job, entry, settings, writes, manual=manual, extra_mappings=extra_mappings
        )
        plan = plan_push(given)
        done = PushDone(
            job.object, job.match_key, plan.outcome, plan.pipedrive_id, plan.fields_written, plan.message
        )
        if plan.action is PushAction.CREATE:
            return await self._create(tenant, job, done, plan.body, writes)
        if plan.action is PushAction.UPDATE and plan.pipedrive_id is not None:
            try:
                record = await writes.update(job.object, plan.pipedrive_id, plan.body)
            except NotFound:
                return gone_in_pipedrive(job.object, job.match_key, plan.pipedrive_id)
            except RequestRejected as rejected:
                raise UpdateRejected(rejected, plan.pipedrive_id) from rejected
            return _written(done, record, plan.body)
        if plan.action is PushAction.SKIP and given.linked is not None and given.linked.answered_404:
            return gone_in_pipedrive(job.object, job.match_key, given.linked.pipedrive_id)
        return done

    async def _create(
        self, tenant: str, job: RecordPush, done: PushDone, body: Mapping[str, Any], writes: PipedriveWriter
    ) -> PushDone:
        """The guarded create: its intent committed before the POST, dropped when Pipedrive refused it."""
        assert job.match_key is not None
        async with self._store.view() as view:
            await view.ledger.record_intent(tenant, job.object, job.match_key, body)
        try:
            record = await writes.create(job.object, body)
        except _REFUSED_BEFORE_CREATING:
            async with self._store.view() as view:
                await view.ledger.drop_intent(tenant, job.object, job.match_key)
            raise
        self._after_create()
        return _written(done, record, body)

    async def _resolve_intent(
        self,
        tenant: str,
        job: RecordPush,
        entry: LedgerEntry,
        settings: TenantSettings | None,
        writes: PipedriveWriter,
    ) -> PushDone | None:
        """The record an interrupted create made (adopted as created), a `Duplicate found` failure, or
        None when nothing was created and planning may go on."""
        assert job.match_key is not None and entry.intent_at is not None
        async with self._store.view() as view:
            mirrored = await view.mirror.by_match_key(tenant, job.object, job.match_key)
        if mirrored is not None:
            return (
                _adopted(job, entry, mirrored.pipedrive_id, mirrored.record)
                if added_since(mirrored.record, entry.intent_at)
                else None
            )
        found = await writes.find_by_match_key(job.object, job.match_key, entry.planned_body or {}, settings)
        ours = [r for r in found if added_since(r, entry.intent_at)]
        if len(ours) == 1 and len(found) == 1:
            return _adopted(job, entry, int(ours[0]["id"]), ours[0])
        if found:
            async with self._store.view() as view:
                await view.ledger.drop_intent(tenant, job.object, job.match_key)
            twin = int(found[0]["id"])
            return PushDone(job.object, job.match_key, RecordOutcome.FAILED, twin, message=DUPLICATE_FOUND)
        return None


async def remember(
    unit: PusherUnit, tenant: str, done: PushDone, settings: TenantSettings | None, now: datetime
) -> None:
    """Record a push's result in the ledger and the answered record in the mirror (in the unit of work
    that claims the event)."""
    if done.deleted_in_pipedrive and done.pipedrive_id is not None:
        await unit.mirror.mark_deleted(tenant, done.object, done.pipedrive_id, now)
        return
    if done.pipedrive_id is None or done.match_key is None or done.outcome is RecordOutcome.FAILED:
        return
    written = done.outcome in (RecordOutcome.CREATED, RecordOutcome.UPDATED)
    if written or done.object is not SyncObject.DEAL:
        version = update_time_of(done.record, now) if written and done.record else None
        await unit.ledger.record_write(
            tenant, done.object, done.match_key, done.pipedrive_id, done.body if written else {}, version
        )
    if done.record:
        match_key = mirror_match_key(done.object, done.record, settings)
        update_time = update_time_of(done.record, now)
        await unit.mirror.upsert(tenant, done.object, done.pipedrive_id, done.record, update_time, match_key)


def no_match_key(given: str | None) -> str:
    """The message of a record skipped for want of a match key, naming the domain or email it was given
    (so the activity log says which record it was: its match key field can only show "-")."""
    text = (given or "").strip()
    return f'{NO_MATCH_KEY} in "{text[:200]}"' if text else NO_MATCH_KEY


def last_push_of(entry: LedgerEntry | None) -> LastPush | None:
    """What the pusher last sent to the record the ledger links (None when it never wrote one)."""
    if entry is None or entry.pipedrive_id is None or not entry.pushed:
        return None
    return LastPush(entry.pipedrive_id, entry.pushed)


def gone_in_pipedrive(obj: SyncObject, match_key: str | None, pipedrive_id: int) -> PushDone:
    """The result of a push that met a 404: skipped, and the record known deleted from now on."""
    return PushDone(
        obj, match_key, RecordOutcome.SKIPPED, pipedrive_id, message=GONE_IN_PIPEDRIVE,
        deleted_in_pipedrive=True,
    )  # fmt: skip


def needs_pipedrive_users(job: RecordPush, settings: TenantSettings | None) -> bool:
    """Whether the push needs Pipedrive's users (20 tokens): an owner email to match, and owner mapped."""
    if owner_email_of(job.fields) is None:
        return False
    owner = [m for m in push_mappings(settings, job.object) if m.abm_field == "owner"]
    return bool(owner) and owner[0].modes.to_pipedrive is not FieldMode.DONT_SYNC


def _written(done: PushDone, record: Mapping[str, Any], body: Mapping[str, Any]) -> PushDone:
    return PushDone(
        done.object, done.match_key, done.outcome, int(record["id"]), done.fields_written, done.message,
        record, body,
    )  # fmt: skip


def _adopted(job: RecordPush, entry: LedgerEntry, pipedrive_id: int, record: Mapping[str, Any]) -> PushDone:
    body = dict(entry.planned_body or {})
    return PushDone(
        job.object,
        job.match_key,
        RecordOutcome.CREATED,
        pipedrive_id,
        tuple(sorted(body)),
        None,
        record,
        body,
    )
