"""What an input event pushes and which run it counts in (pure): the same for a push and for one that
gives up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from pusher.push_scopes import PushScope, push_scope
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested

NOW = datetime(2026, 11, 2, 9, 41, tzinfo=UTC)


def event(payload: BaseModel) -> CloudEvent[Any]:
    return build_event(payload, tenant="acme", subject="acme:x", source="/t", id_parts=("1",), time=NOW)


def test_an_abm_signal_pushes_its_normalized_record_in_the_hours_auto_push_window() -> None:
    revealed = event(CompanyRevealed(domain="https://www.Acme.io/x", name="Acme", revealed_at=NOW))
    enriched = event(ContactEnriched(email=" Ann@Acme.io ", enriched_at=NOW))

    assert push_scope(revealed, None) == PushScope(
        SyncObject.ORGANIZATION, "acme.io", "auto-push-2026-11-02T09", given_key="https://www.Acme.io/x"
    )
    assert push_scope(enriched, None) == PushScope(
        SyncObject.PERSON, "ann@acme.io", "auto-push-2026-11-02T09", given_key=" Ann@Acme.io "
    )


def test_a_manual_push_request_counts_in_its_batch() -> None:
    request = PushRequested(
        object=SyncObject.ORGANIZATION, match_key="www.acme.io", abm_id="acc-1", record={"name": "Acme"},
        batch_id="batch-1", batch_size=3,
    )  # fmt: skip

    scope = push_scope(event(request), None)

    assert scope == PushScope(
        SyncObject.ORGANIZATION, "acme.io", "batch-1", True, "acc-1", 3, given_key="www.acme.io"
    )
