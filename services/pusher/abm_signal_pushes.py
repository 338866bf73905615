"""`abm.company.revealed`, `abm.contact.enriched`, `abm.score.changed`: auto-push, when the tenant turned it
on. A revealed company creates or updates its organization (and may add its visited pages as an
activity), an enriched contact its person (linked to its organization), a score that moved enough the
organization's and its open deals' engagement score."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pusher.auto_push import auto_push_enabled, company_push, contact_push, organization_key
from pusher.event_pushes import EventPushes
from pusher.ports import PipedriveWriter, PusherStore, TenantSettingsSource
from pusher.push_scopes import push_scope
from pusher.record_pusher import PushDone, RecordPusher
from pusher.score_push import ScorePush
from pusher.visit_activity import VISITED_PAGES, VisitActivities, visit_activity_body, visit_activity_wanted
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from stream_runner.messages import Handled


class AbmSignalPushes:
    """The auto-push handlers (each takes the event, its topic, and whether it is being re-driven)."""

    def __init__(
        self,
        store: PusherStore,
        settings: TenantSettingsSource,
        pushes: EventPushes,
        pusher: RecordPusher,
        scores: ScorePush,
        visits: VisitActivities,
    ) -> None:
        self._store = store
        self._settings = settings
        self._pushes = pushes
        self._pusher = pusher
        self._scores = scores
        self._visits = visits

    async def company_revealed(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """A revealed company creates or updates its organization."""
        revealed: CompanyRevealed = event.data
        settings = await self._settings.get(event.tenantid)
        if not auto_push_enabled(settings):
            return Handled()
        job = company_push(revealed, settings)

        async def work(writes: PipedriveWriter) -> list[PushDone]:
            done = await self._pusher.push(event.tenantid, job, settings, writes, manual=False)
            if visit_activity_wanted(settings, revealed, done) and done.pipedrive_id is not None:
                body = visit_activity_body(revealed, done.pipedrive_id)
                if await self._visits.add_once(event.tenantid, event.id, body, writes):
                    done = replace(done, fields_written=(*done.fields_written, VISITED_PAGES))
            return [done]

        return await self._pushes.run(event, topic, push_scope(event, settings), settings, work, redriving)

    async def contact_enriched(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """An enriched contact creates or updates its person (linked to its organization)."""
        enriched: ContactEnriched = event.data
        tenant = event.tenantid
        settings = await self._settings.get(tenant)
        if not auto_push_enabled(settings):
            return Handled()

        async def work(writes: PipedriveWriter) -> list[PushDone]:
            org_id = await self._organization_id(tenant, enriched.company_domain, settings)
            job = contact_push(enriched, org_id)
            return [await self._pusher.push(tenant, job, settings, writes, manual=False)]

        return await self._pushes.run(event, topic, push_scope(event, settings), settings, work, redriving)

    async def score_changed(self, event: CloudEvent[Any], topic: str, redriving: bool) -> Handled:
        """A score that moved by the threshold updates the organization and its open deals."""
        changed: ScoreChanged = event.data
        settings = await self._settings.get(event.tenantid)
        if not auto_push_enabled(settings):
            return Handled()
        scope = push_scope(event, settings)

        async def work(writes: PipedriveWriter) -> list[PushDone]:
            return await self._scores.push(event.tenantid, scope.match_key, changed.score, settings, writes)

        return await self._pushes.run(event, topic, scope, settings, work, redriving)

    async def _organization_id(
        self, tenant: str, domain: str | None, settings: TenantSettings | None
    ) -> int | None:
        key = organization_key(domain, settings) if domain else None
        if key is None:
            return None
        async with self._store.view() as view:
            entry = await view.ledger.entry(tenant, SyncObject.ORGANIZATION, key)
            if entry is not None and entry.pipedrive_id is not None and not entry.unresolved_intent:
                return entry.pipedrive_id
            found = await view.mirror.by_match_key(tenant, SyncObject.ORGANIZATION, key)
        return found.pipedrive_id if found else None
