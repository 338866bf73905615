"""The values a push wrote, taken into the ABM store as their echo would bring them (pure rule): under the
tenant's modes toward the ABM platform, never over a later Pipedrive version, and so that the echo then
changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mapper.planning import Situation, StoredLink, StoredRecord, plan_change, tenant_rules
from mapper.pushed_versions import adopt_written_version
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import WrittenVersion
from schemas.events.settings import DirectionSwitches, FieldMapping, FieldMode, ObjectSettings, TenantSettings
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange

ORG, PERSON = SyncObject.ORGANIZATION, SyncObject.PERSON
IMPORTED_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
WRITTEN_AT = IMPORTED_AT + timedelta(minutes=5)
BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)


def _both(abm: str, pipedrive: str, mode: FieldMode = FieldMode.OVERWRITE) -> FieldMapping:
    return FieldMapping(abm_field=abm, pipedrive_field=pipedrive, to_pipedrive=mode, to_abm=mode)


def settings(directions: DirectionSwitches = BOTH_WAYS) -> TenantSettings:
    return TenantSettings(
        version=1,
        objects={
            ORG: ObjectSettings(
                directions=directions,
                fields=(_both("name", "name"), _both("website", "website", FieldMode.FILL)),
            ),
            PERSON: ObjectSettings(
                directions=directions,
                fields=(
                    _both("name", "name"),
                    _both("phone", "phones"),
                    _both("organization", "org_id", FieldMode.FILL),
                ),
            ),
        },
    )


LINK = StoredLink("acc-1", IMPORTED_AT)
ACCOUNT = StoredRecord("acc-1", {"name": "Acme", "website": "acme.io"})
RENAMED = WrittenVersion(update_time=WRITTEN_AT, values={"name": "Acme Renamed"})


def test_a_name_the_push_wrote_over_pipedrives_is_taken_with_its_version() -> None:
    adoption = adopt_written_version(ORG, RENAMED, settings(), LINK, ACCOUNT)

    assert adoption is not None
    assert (adoption.changes, adoption.version) == ({"name": "Acme Renamed"}, WRITTEN_AT)


def test_the_echo_of_the_written_version_then_changes_nothing() -> None:
    adoption = adopt_written_version(ORG, RENAMED, settings(), LINK, ACCOUNT)
    assert adoption is not None
    echo = SourceChange(
        object=ORG, pipedrive_id=7, action=ChangeAction.UPSERTED, update_time=WRITTEN_AT,
        record={"id": 7, "name": "Acme Renamed", "website": "acme.io"}, origin=ChangeOrigin.WEBHOOK,
    )  # fmt: skip
    taken = StoredRecord("acc-1", {**ACCOUNT.fields, **adoption.changes})
    situation = Situation(StoredLink("acc-1", adoption.version), taken)

    plan = plan_change(echo, tenant_rules(settings()), situation, "new-id", "acme.io")

    assert (plan.outcome, plan.fields) == (RecordOutcome.UNCHANGED, {})


def test_a_created_persons_values_are_read_as_pipedrive_answered_them() -> None:
    contact = StoredRecord("con-1", {"name": "Jane", "phone": "+15550001", "email": "jane@acme.io"})
    created = WrittenVersion(
        update_time=WRITTEN_AT,
        values={
            "name": "Jane",
            "emails": [{"value": "jane@acme.io", "primary": True, "label": "work"}],
            "phones": [{"value": "+15550001", "primary": True, "label": "work"}],
            "org_id": 7,
        },
    )

    adoption = adopt_written_version(PERSON, created, settings(), None, contact)

    assert adoption is not None and adoption.changes == {"organization": 7}


def test_fields_the_push_did_not_write_are_left_as_they_are() -> None:
    account = StoredRecord("acc-1", {"name": "Acme"})

    adoption = adopt_written_version(ORG, RENAMED, settings(), LINK, account)

    assert adoption is not None and adoption.changes == {"name": "Acme Renamed"}


def test_a_version_the_store_has_applied_or_passed_is_not_taken() -> None:
    for applied in (WRITTEN_AT, WRITTEN_AT + timedelta(seconds=1)):
        link = StoredLink("acc-1", applied)
        assert adopt_written_version(ORG, RENAMED, settings(), link, ACCOUNT) is None


def test_nothing_is_taken_where_its_echo_would_change_nothing() -> None:
    no_updates = BOTH_WAYS.model_copy(update={"update_in_abm": False})
    fill_only = settings().model_copy(
        update={
            "objects": {
                ORG: ObjectSettings(directions=BOTH_WAYS, fields=(_both("name", "name", FieldMode.FILL),))
            }
        }
    )

    assert adopt_written_version(ORG, RENAMED, settings(no_updates), LINK, ACCOUNT) is None
    fill = adopt_written_version(ORG, RENAMED, fill_only, LINK, ACCOUNT)
    assert fill is not None and fill.changes == {}


def test_a_write_of_fields_the_store_does_not_map_takes_nothing() -> None:
    score = WrittenVersion(update_time=WRITTEN_AT, values={"custom_fields": {"a" * 40: 72}})

    assert adopt_written_version(ORG, score, settings(), LINK, ACCOUNT) is None
