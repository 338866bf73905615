"""What an input event pushes: the record (object and match key) it is keyed by, and the run it counts in.

Pure functions of the event: the handlers, the manual-push preview and a push that gives up all agree on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pusher.auto_push import RecordPush, bare_website, organization_key
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested
from schemas.events.settings import TenantSettings
from sync_rules.match_keys import email_match_key


@dataclass(frozen=True)
class PushScope:
    """What one event pushes: the record it is keyed by, its run, and whether a person asked for it."""

    object: SyncObject
    match_key: str | None
    run_id: str
    manual: bool = False
    abm_id: str | None = None
    batch_size: int | None = None
    given_key: str | None = None  # the domain, email or match key as the event gave it


def push_scope(event: CloudEvent[Any], settings: TenantSettings | None) -> PushScope:
    """The record an input event pushes (by its match key) and the run it belongs to."""
    data = event.data
    if isinstance(data, CompanyRevealed | ScoreChanged):
        key = organization_key(data.domain, settings)
        return PushScope(SyncObject.ORGANIZATION, key, auto_push_run_id(event), given_key=data.domain)
    if isinstance(data, ContactEnriched):
        return PushScope(
            SyncObject.PERSON, email_match_key(data.email), auto_push_run_id(event), given_key=data.email
        )
    request: PushRequested = data
    job = manual_record_push(request, settings)
    return PushScope(
        job.object, job.match_key, request.batch_id, manual=True, abm_id=request.abm_id,
        batch_size=request.batch_size, given_key=request.match_key,
    )  # fmt: skip


def manual_record_push(request: PushRequested, settings: TenantSettings | None) -> RecordPush:
    """A push request as a record push, its match key normalized like the mirror's (under the tenant's
    domain settings) and an organization's website written as that bare domain."""
    fields: Mapping[str, Any] = request.record
    if request.object is SyncObject.ORGANIZATION:
        key = organization_key(request.match_key, settings)
        fields = bare_website(fields, key, settings)
    elif request.object is SyncObject.PERSON:
        key = email_match_key(request.match_key)
    else:
        key = request.match_key
    return RecordPush(request.object, key, fields, request.abm_id)


def auto_push_run_id(event: CloudEvent[Any]) -> str:
    """The auto-push window (one per hour) an ABM signal belongs to, unless it names its own run."""
    return event.correlationid or f"auto-push-{event.time.astimezone(UTC):%Y-%m-%dT%H}"
