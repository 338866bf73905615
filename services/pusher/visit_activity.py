"""Visited pages as recent activity: a reveal that lists pages adds one done activity on its organization.

Written once per reveal event: the intent (keyed by the event id) is committed before the creating call
and its result after it. An intent without a result means a crash came between the two: the organization's
activities are read back before adding it again, so a redelivery never adds a second one. A replay does
not even get here (the event is in the inbox).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipedrive_client import BudgetExhausted, InvalidApiKey, RateLimitExceeded, RequestRejected
from pusher.pipedrive_writes import added_since
from pusher.ports import PipedriveWriter, VisitLog
from pusher.record_pusher import PushDone
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import RecordOutcome
from schemas.events.settings import TenantSettings

VISITED_PAGES = "visited_pages"
MAX_LISTED_PAGES = 50
_REFUSED_BEFORE_CREATING = (BudgetExhausted, InvalidApiKey, RateLimitExceeded, RequestRejected)
INTENT, DONE = "intent", "done"


def visit_activity_wanted(settings: TenantSettings | None, revealed: CompanyRevealed, done: PushDone) -> bool:
    """Whether the tenant wants visited pages as activity, the reveal lists pages, and its organization
    is live in Pipedrive (created, updated or unchanged; not failed, skipped for a delete, or absent)."""
    if settings is None or not settings.auto_push.visited_pages_as_activity or not revealed.pages:
        return False
    if done.pipedrive_id is None:
        return False
    return done.outcome in (RecordOutcome.CREATED, RecordOutcome.UPDATED, RecordOutcome.UNCHANGED)


def visit_activity_body(revealed: CompanyRevealed, org_id: int) -> dict[str, Any]:
    """The v2 activity: done, on the organization, dated by the last visit, the pages listed in the note."""
    pages = sorted(revealed.pages, key=lambda p: p.visited_at)
    count = len(pages)
    listed = pages[-MAX_LISTED_PAGES:]
    items = "".join(
        f"<li>{_when(p.visited_at)}: {html.escape(p.title or p.url)} ({html.escape(p.url)})</li>"
        for p in listed
    )
    more = f"<p>and {count - len(listed)} earlier pages</p>" if count > len(listed) else ""
    return {
        "subject": f"Website visit: {count} page{'s' if count != 1 else ''}",
        "type": "task",
        "done": True,
        "org_id": org_id,
        "due_date": pages[-1].visited_at.astimezone(UTC).date().isoformat(),
        "note": f"<p>Pages visited by {html.escape(revealed.name)}:</p><ul>{items}</ul>{more}",
    }


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class VisitActivities:
    """Adds a reveal's activity once (`pusher.ports.VisitLog` records which reveal events added theirs)."""

    def __init__(self, log: VisitLog) -> None:
        self._log = log

    async def add_once(
        self, tenant: str, event_id: str, body: Mapping[str, Any], writes: PipedriveWriter
    ) -> bool:
        """Add the reveal's activity unless it was added already; True when this call added it."""
        known = await self._log.state(tenant, event_id)
        if known is not None and known.state == DONE:
            return False
        if known is not None and await self._made_before(tenant, event_id, body, known.intent_at, writes):
            return False
        await self._log.record_intent(tenant, event_id, body["org_id"])
        try:
            activity = await writes.add_activity(body)
        except _REFUSED_BEFORE_CREATING:
            await self._log.forget_intent(tenant, event_id)
            raise
        await self._log.record_done(tenant, event_id, int(activity["id"]))
        return True

    async def _made_before(
        self,
        tenant: str,
        event_id: str,
        body: Mapping[str, Any],
        intent_at: datetime,
        writes: PipedriveWriter,
    ) -> bool:
        """After an interrupted add: the activity it made, if Pipedrive has it (then recorded as done)."""
        for activity in await writes.activities_of_organization(int(body["org_id"])):
            same = all(activity.get(key) == body[key] for key in ("subject", "note", "done"))
            if same and added_since(activity, intent_at):
                await self._log.record_done(tenant, event_id, int(activity["id"]))
                return True
        return False
