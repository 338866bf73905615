"""Engagement scores into Pipedrive: the organization's and its open deals' engagement-score field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipedrive_client import NotFound
from pusher.auto_push import ENGAGEMENT_SCORE_FIELD, RecordPush, score_moved_enough
from pusher.engagement_field import ENGAGEMENT_SCORE_LABEL, ENGAGEMENT_SCORE_TYPE, CustomFieldCodes
from pusher.mirror import follow_merges
from pusher.planning import PipedriveRecord, overwrite_mapping
from pusher.ports import PipedriveWriter, PusherStore
from pusher.push_ledger import LedgerEntry
from pusher.record_pusher import PushDone, RecordPusher, gone_in_pipedrive
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import TenantSettings
from sync_rules.mapping_resolution import object_switches

NO_ORGANIZATION = "No organization in Pipedrive for this domain"
BELOW_THRESHOLD = "Score moved less than the threshold"
UPDATES_OFF = "Updating organizations is turned off"


class ScorePush:
    """Pushes a score change: the organization (found by link or mirror) and its open deals."""

    def __init__(self, store: PusherStore, pusher: RecordPusher, codes: CustomFieldCodes) -> None:
        self._store = store
        self._pusher = pusher
        self._codes = codes

    async def push(
        self,
        tenant: str,
        key: str | None,
        score: int,
        settings: TenantSettings | None,
        writes: PipedriveWriter,
    ) -> list[PushDone]:
        """The results of one score change (the organization first, then each deal written)."""
        org_obj = SyncObject.ORGANIZATION
        entry = await self._pusher.entry(tenant, org_obj, key) if key is not None else None
        organization = await self._organization(tenant, key, entry)
        if key is None or organization is None:
            return [PushDone(org_obj, key, RecordOutcome.SKIPPED, message=NO_ORGANIZATION)]
        if not object_switches(settings, org_obj).update_in_pipedrive:
            return [
                PushDone(org_obj, key, RecordOutcome.SKIPPED, organization.pipedrive_id, message=UPDATES_OFF)
            ]
        code = await self._codes.code_of(
            tenant, org_obj, ENGAGEMENT_SCORE_LABEL, writes, ENGAGEMENT_SCORE_TYPE
        )
        threshold = settings.auto_push.score_threshold if settings else 10
        if not score_moved_enough(score, _number(organization.record, code), threshold):
            return [
                PushDone(
                    org_obj, key, RecordOutcome.SKIPPED, organization.pipedrive_id, message=BELOW_THRESHOLD
                )
            ]
        job = RecordPush(org_obj, key, {ENGAGEMENT_SCORE_FIELD: score})
        mapping = overwrite_mapping(ENGAGEMENT_SCORE_FIELD, code)
        done = await self._pusher.push_with_entry(
            tenant, job, entry, settings, writes, manual=False, extra_mappings=(mapping,)
        )
        return [done, *await self._deals(tenant, organization.pipedrive_id, score, writes)]

    async def _organization(
        self, tenant: str, key: str | None, entry: LedgerEntry | None
    ) -> PipedriveRecord | None:
        if key is None:
            return None
        org_obj = SyncObject.ORGANIZATION
        async with self._store.view() as view:
            if entry is not None and entry.pipedrive_id is not None:
                linked = await follow_merges(view.mirror, tenant, org_obj, entry.pipedrive_id)
                if linked is not None and not linked.deleted:
                    return linked
            found = await view.mirror.by_match_key(tenant, org_obj, key)
            gone = None if found is not None else await view.mirror.gone_by_match_key(tenant, org_obj, key)
            if gone is not None:
                found = await follow_merges(view.mirror, tenant, org_obj, gone.pipedrive_id)
            return found if found is not None and not found.deleted else None

    async def _deals(self, tenant: str, org_id: int, score: int, writes: PipedriveWriter) -> list[PushDone]:
        async with self._store.view() as view:
            deals = await view.mirror.open_deals_of(tenant, org_id)
        if not deals:
            return []
        code = await self._codes.code_of(
            tenant, SyncObject.DEAL, ENGAGEMENT_SCORE_LABEL, writes, ENGAGEMENT_SCORE_TYPE
        )
        results = []
        for deal in deals:
            if _number(deal.record, code) == score:
                continue
            body = {"custom_fields": {code: score}}
            try:
                record = await writes.update(SyncObject.DEAL, deal.pipedrive_id, body)
            except NotFound:
                results.append(gone_in_pipedrive(SyncObject.DEAL, str(deal.pipedrive_id), deal.pipedrive_id))
                continue
            results.append(
                PushDone(
                    SyncObject.DEAL,
                    str(deal.pipedrive_id),
                    RecordOutcome.UPDATED,
                    deal.pipedrive_id,
                    (ENGAGEMENT_SCORE_FIELD,),
                    None,
                    record,
                    body,
                )
            )
        return results


def _number(record: Mapping[str, Any], code: str) -> float | None:
    value = (record.get("custom_fields") or {}).get(code)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
