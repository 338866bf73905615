"""One realistic example message per event type: exported to `schemas/examples/`, validated by tests."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from schemas import sources
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged, VisitedPage
from schemas.events.audit import Actor, AuditAction, AuditChange, AuditRecorded
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.push import PushCompleted, PushRequested, WrittenVersion
from schemas.events.record_results import RecordApplied
from schemas.events.settings import (
    AutoPush,
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    Frequency,
    ObjectSettings,
    TenantSettings,
)
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus
from schemas.keys import audit_key, record_key, run_key, settings_key, source_change_key

_T0 = datetime(2026, 11, 2, 9, 30, 0, tzinfo=UTC)
_TENANT = "acme"
_RUN = "run-2026-11-02T09:30:00Z-organization"

_ORG_RECORD = {
    "id": 1042,
    "name": "Example Ltd",
    "owner_id": 7,
    "website": "https://www.Example.co.uk/about",
    "address": {"value": "1 High Street, London"},
    "add_time": "2026-01-15T10:00:00Z",
    "update_time": "2026-11-02T09:29:41Z",
    "is_deleted": False,
    "custom_fields": {"8b2f7c1e0d9a4b3c2e1f0a9b8c7d6e5f4a3b2c1d": 72},
}


def _payloads() -> list[tuple[BaseModel, str, tuple[object, ...]]]:
    org_key = record_key(_TENANT, SyncObject.ORGANIZATION, "example.co.uk")
    person_key = record_key(_TENANT, SyncObject.PERSON, "jane.doe@example.co.uk")
    counts = RunCounts(created=12, updated=30, skipped=2, failed=1)
    started = RunStarted(
        run_id=_RUN,
        service="connector",
        kind=RunKind.SYNC,
        direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,),
        started_at=_T0,
    )
    return [
        (
            SourceChange(
                object=SyncObject.ORGANIZATION,
                pipedrive_id=1042,
                action=ChangeAction.UPSERTED,
                update_time=datetime(2026, 11, 2, 9, 29, 41, tzinfo=UTC),
                record=_ORG_RECORD,
                origin=ChangeOrigin.POLL,
            ),
            source_change_key(_TENANT, SyncObject.ORGANIZATION, 1042),
            (1042, "2026-11-02T09:29:41Z"),
        ),
        (
            TenantSettings(
                version=3,
                objects={
                    SyncObject.ORGANIZATION: ObjectSettings(
                        directions=DirectionSwitches(create_in_pipedrive=True, update_in_pipedrive=True),
                        fields=(
                            FieldMapping(
                                abm_field="name",
                                pipedrive_field="name",
                                to_pipedrive=FieldMode.FILL,
                                to_abm=FieldMode.OVERWRITE,
                            ),
                            FieldMapping(
                                abm_field="engagement_score",
                                pipedrive_field="Engagement score",
                                custom=True,
                                to_pipedrive=FieldMode.OVERWRITE,
                                to_abm=FieldMode.DONT_SYNC,
                            ),
                        ),
                    ),
                },
                frequency=Frequency.EVERY_6H,
                auto_push=AutoPush(enabled=True, score_threshold=10),
                connected=True,
            ),
            settings_key(_TENANT),
            (3,),
        ),
        (started, run_key(_TENANT, _RUN), (_RUN, "started")),
        (
            RunFinished(
                **started.model_dump(exclude={"trigger"}),
                finished_at=datetime(2026, 11, 2, 9, 31, 5, tzinfo=UTC),
                counts=counts,
                tokens_spent=40,
                status=RunStatus.WARNING,
                emitted=counts.created + counts.updated,
            ),
            run_key(_TENANT, _RUN),
            (_RUN, "finished"),
        ),
        (
            CompanyRevealed(
                domain="example.co.uk",
                name="Example Ltd",
                revealed_at=_T0,
                industry="Software",
                employee_count=250,
                country="GB",
                pages=(VisitedPage(url="https://abm-customer.com/pricing", title="Pricing", visited_at=_T0),),
            ),
            org_key,
            ("reveal-81723",),
        ),
        (
            ContactEnriched(
                email="jane.doe@example.co.uk",
                name="Jane Doe",
                first_name="Jane",
                last_name="Doe",
                job_title="VP Marketing",
                phone="+44 20 7946 0000",
                company_domain="example.co.uk",
                enriched_at=_T0,
            ),
            person_key,
            ("enrich-5521",),
        ),
        (
            ScoreChanged(domain="example.co.uk", score=72, previous_score=55, changed_at=_T0),
            org_key,
            ("score-example.co.uk-72",),
        ),
        (
            PushRequested(
                object=SyncObject.ORGANIZATION,
                match_key="example.co.uk",
                abm_id="acc_01HF3",
                record={"name": "Example Ltd", "domain": "example.co.uk", "engagement_score": 72},
                batch_id="push-batch-17",
                requested_by="admin@acme.test",
            ),
            org_key,
            ("push-batch-17", "example.co.uk"),
        ),
        (
            PushCompleted(
                object=SyncObject.ORGANIZATION,
                match_key="example.co.uk",
                abm_id="acc_01HF3",
                outcome=RecordOutcome.UPDATED,
                pipedrive_id=1042,
                fields_written=("custom_fields.8b2f7c1e0d9a4b3c2e1f0a9b8c7d6e5f4a3b2c1d",),
                tokens_spent=5,
                run_id="push-batch-17",
                written=WrittenVersion(
                    update_time=datetime(2026, 11, 2, 9, 29, 58, tzinfo=UTC),
                    values={"custom_fields": {"8b2f7c1e0d9a4b3c2e1f0a9b8c7d6e5f4a3b2c1d": 72}},
                ),
            ),
            org_key,
            ("push-batch-17", "example.co.uk", "result"),
        ),
        (
            RecordApplied(
                object=SyncObject.ORGANIZATION,
                match_key="example.co.uk",
                pipedrive_id=1042,
                abm_id="acc_01HF3",
                outcome=RecordOutcome.UPDATED,
                run_id=_RUN,
                name="Example Ltd",
            ),
            org_key,
            (1042, "2026-11-02T09:29:41Z", "applied"),
        ),
        (
            AuditRecorded(
                action=AuditAction.SETTINGS_CHANGED,
                actor=Actor(key_id="k_7Qd2", name="admin@acme.test"),
                at=_T0,
                changes=(AuditChange(path="frequency", before="manual", after="every_6h"),),
            ),
            audit_key(_TENANT),
            ("audit", 17),
        ),
    ]


def example_events() -> list[CloudEvent[BaseModel]]:
    """The examples, one per event type, in catalog order."""
    return [
        build_event(
            payload,
            tenant=_TENANT,
            subject=subject,
            source=sources.EXAMPLES,
            id_parts=id_parts,
            time=_T0,
            correlationid=_RUN,
        )
        for payload, subject, id_parts in _payloads()
    ]
