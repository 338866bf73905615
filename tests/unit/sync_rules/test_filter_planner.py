from datetime import UTC, datetime

from sync_rules.filters import compile_filter, plan_filter, print_filter, standard_filter_fields
from sync_rules.objects import SyncObject

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
DEALS = standard_filter_fields(SyncObject.DEAL, stages={"Proposal": 3}, pipelines={"Sales": 1})
ORGS = standard_filter_fields(SyncObject.ORGANIZATION)


def _plan(
    source: str, sync_object: SyncObject = SyncObject.DEAL, user: int | None = 7
) -> tuple[dict[str, str | int], str | None]:
    fields = DEALS if sync_object is SyncObject.DEAL else ORGS
    plan = plan_filter(compile_filter(source, fields), sync_object, now=NOW, current_user_id=user)
    return plan.params, print_filter(plan.residual) if plan.residual else None


def test_stage_is_pushed_down_and_value_stays_local() -> None:
    assert _plan('Value > 10000 AND Stage = "Proposal"') == ({"stage_id": 3}, "Value > 10000")


def test_owner_current_user_becomes_owner_id() -> None:
    assert _plan("Add Time > last 30 days AND Owner = current user") == (
        {"owner_id": 7},
        "Add Time > last 30 days",
    )


def test_owner_stays_local_without_a_known_current_user() -> None:
    assert _plan("Owner = current user", user=None) == ({}, "Owner = current user")


def test_pipeline_and_status_are_pushed_for_deals() -> None:
    assert _plan('Pipeline = "Sales" AND Status = "won"') == ({"pipeline_id": 1, "status": "won"}, None)


def test_update_time_bounds_become_updated_since_and_until() -> None:
    params, residual = _plan("Update Time >= last 7 days AND Update Time < today")

    assert params == {"updated_since": "2026-06-08T00:00:00Z", "updated_until": "2026-06-15T00:00:00Z"}
    assert residual is None


def test_strict_and_inclusive_bounds_move_to_the_next_day() -> None:
    params, _ = _plan('Update Time > last 7 days AND Update Time <= "2026-06-20"')

    assert params == {"updated_since": "2026-06-09T00:00:00Z", "updated_until": "2026-06-21T00:00:00Z"}


def test_deal_only_parameters_stay_local_for_organizations() -> None:
    params, residual = _plan('Owner = 3 AND Name CONTAINS "acme"', SyncObject.ORGANIZATION)

    assert (params, residual) == ({"owner_id": 3}, 'Name CONTAINS "acme"')


def test_or_and_not_stay_local() -> None:
    assert _plan('Stage = "Proposal" OR Value > 5') == ({}, 'Stage = "Proposal" OR Value > 5')
    assert _plan("NOT Owner = 3") == ({}, "NOT Owner = 3")


def test_a_parameter_is_pushed_once_and_a_repeat_stays_local() -> None:
    assert _plan("Owner = 3 AND Owner = 4") == ({"owner_id": 3}, "Owner = 4")


def test_not_equal_is_never_pushed() -> None:
    assert _plan("Stage != 3") == ({}, "Stage != 3")
