"""Events from producers older than the apply run's own entries and links still land where they belong."""

from __future__ import annotations

from datetime import UTC, datetime

from auditlog.activity_entries import applies_run_of
from auditlog.handlers import apply_run_of
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunKind, RunStarted, applied_run_id, apply_run_id


def _started(run_id: str, kind: RunKind, applies: str | None = None) -> RunStarted:
    return RunStarted(
        run_id=run_id, service="mapper", kind=kind, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=datetime(2026, 11, 1, tzinfo=UTC),
        applies_run_id=applies,
    )  # fmt: skip


def test_an_apply_runs_id_names_its_connector_run() -> None:
    assert apply_run_id("import-1") == "apply-import-1"
    assert applied_run_id("apply-import-1") == "import-1"
    assert applied_run_id("import-1") is None


def test_a_record_result_filed_under_its_connector_run_goes_under_the_apply_run() -> None:
    assert apply_run_of("sync-1") == "apply-sync-1"
    assert apply_run_of("apply-sync-1") == "apply-sync-1"
    assert apply_run_of(None) is None


def test_an_apply_run_without_its_link_is_linked_by_its_id() -> None:
    assert applies_run_of(_started("apply-sync-1", RunKind.APPLY)) == "sync-1"
    assert applies_run_of(_started("apply-sync-1", RunKind.APPLY, "sync-1")) == "sync-1"
    assert applies_run_of(_started("apply-x", RunKind.SYNC)) is None
