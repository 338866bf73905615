"""The pusher's planning, as pure rules: Fill and Overwrite, required fields, and two-way conflicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pusher.planning import LastPush, PipedriveRecord, PushAction, PushInput, plan_push
from schemas.events.common import SyncObject
from schemas.events.settings import DirectionSwitches, FieldMapping, FieldMode, ObjectSettings, TenantSettings

ORG = SyncObject.ORGANIZATION
BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)
PIPEDRIVE_CHANGED = datetime(2026, 11, 2, 10, tzinfo=UTC)


def settings(to_pipedrive: FieldMode, to_abm: FieldMode) -> TenantSettings:
    fields = (
        FieldMapping(abm_field="name", pipedrive_field="name", to_pipedrive=to_pipedrive, to_abm=to_abm),
        FieldMapping(abm_field="website", pipedrive_field="website", to_pipedrive=FieldMode.FILL),
    )
    return TenantSettings(version=1, objects={ORG: ObjectSettings(directions=BOTH_WAYS, fields=fields)})


def existing(name: str) -> PipedriveRecord:
    record = {"id": 7, "name": name, "website": "acme.io", "update_time": PIPEDRIVE_CHANGED.isoformat()}
    return PipedriveRecord(7, record)


def push(given_settings: TenantSettings, name: str, *, changed_at: datetime | None = None) -> PushInput:
    return PushInput(
        ORG, "acme.io", {"name": name, "website": "acme.io"}, given_settings,
        key_match=existing("Acme Pipedrive"), abm_changed_at=changed_at,
    )  # fmt: skip


def test_fill_never_writes_over_a_pipedrive_value() -> None:
    plan = plan_push(push(settings(FieldMode.FILL, FieldMode.FILL), "Acme ABM"))

    assert plan.action is PushAction.UNCHANGED


def test_overwrite_writes_a_differing_value_as_one_patch() -> None:
    plan = plan_push(push(settings(FieldMode.OVERWRITE, FieldMode.FILL), "Acme ABM"))

    assert (plan.action, plan.pipedrive_id, plan.body) == (PushAction.UPDATE, 7, {"name": "Acme ABM"})


def test_an_empty_abm_value_never_clears_pipedrive() -> None:
    plan = plan_push(push(settings(FieldMode.OVERWRITE, FieldMode.FILL), ""))

    assert plan.action is PushAction.UNCHANGED


def test_in_a_two_way_overwrite_conflict_a_later_pipedrive_change_wins() -> None:
    older_abm_change = datetime(2026, 11, 2, 9, tzinfo=UTC)

    plan = plan_push(
        push(settings(FieldMode.OVERWRITE, FieldMode.OVERWRITE), "Acme ABM", changed_at=older_abm_change)
    )

    assert plan.action is PushAction.UNCHANGED


def test_in_a_two_way_overwrite_conflict_a_later_abm_change_wins() -> None:
    newer_abm_change = datetime(2026, 11, 2, 11, tzinfo=UTC)

    plan = plan_push(
        push(settings(FieldMode.OVERWRITE, FieldMode.OVERWRITE), "Acme ABM", changed_at=newer_abm_change)
    )

    assert plan.body == {"name": "Acme ABM"}


def test_a_two_way_value_unchanged_since_it_was_pushed_leaves_a_newer_pipedrive_edit_in_place() -> None:
    later_signal = datetime(2026, 11, 2, 11, tzinfo=UTC)  # a repeat reveal: newer, the same name
    two_way = settings(FieldMode.OVERWRITE, FieldMode.OVERWRITE)
    repeated = replace(
        push(two_way, "Acme ABM", changed_at=later_signal), last_push=LastPush(7, {"name": "Acme ABM"})
    )
    renamed = replace(repeated, fields={"name": "Acme Renamed", "website": "acme.io"})
    elsewhere = replace(repeated, last_push=LastPush(8, {"name": "Acme ABM"}))

    assert plan_push(repeated).action is PushAction.UNCHANGED
    assert plan_push(renamed).body == {"name": "Acme Renamed"}  # the ABM value changed: it is newer
    assert plan_push(elsewhere).body == {"name": "Acme ABM"}  # pushed to another record: no say here


def test_a_tie_goes_to_pipedrive() -> None:
    plan = plan_push(
        push(settings(FieldMode.OVERWRITE, FieldMode.OVERWRITE), "Acme ABM", changed_at=PIPEDRIVE_CHANGED)
    )

    assert plan.action is PushAction.UNCHANGED


def test_a_manual_push_is_a_change_made_now() -> None:
    plan = plan_push(push(settings(FieldMode.OVERWRITE, FieldMode.OVERWRITE), "Acme ABM", changed_at=None))

    assert plan.body == {"name": "Acme ABM"}


def test_a_create_without_a_name_fails_with_the_standard_message() -> None:
    given = PushInput(ORG, "new.io", {"website": "new.io"}, settings(FieldMode.FILL, FieldMode.FILL))

    plan = plan_push(given)

    assert (plan.action, plan.message) == (PushAction.FAIL, "Required field missing: name")


def test_an_email_differing_only_in_case_is_no_change_and_a_new_one_is_written_as_given() -> None:
    person = SyncObject.PERSON
    email = FieldMapping(abm_field="email", pipedrive_field="emails", to_pipedrive=FieldMode.OVERWRITE)
    tenant = TenantSettings(
        version=1, objects={person: ObjectSettings(directions=BOTH_WAYS, fields=(email,))}
    )
    record = {"id": 9, "emails": [{"value": "nora@delta-rv.com", "primary": True}]}

    def plan(given: str) -> tuple[PushAction, dict[str, object]]:
        planned = plan_push(
            PushInput(
                person, "nora@delta-rv.com", {"email": given}, tenant, key_match=PipedriveRecord(9, record)
            )
        )
        return planned.action, planned.body

    assert plan("Nora@Delta-RV.com") == (PushAction.UNCHANGED, {})
    assert plan("Nora.B@Delta-RV.com") == (
        PushAction.UPDATE,
        {"emails": [{"value": "Nora.B@Delta-RV.com", "primary": True, "label": "work"}]},
    )
