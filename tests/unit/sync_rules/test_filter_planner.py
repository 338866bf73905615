from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_rules.filters import (
    compile_filter,
    evaluate_filter,
    plan_filter,
    print_filter,
    standard_filter_fields,
)
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


_CONJUNCTS = [
    "Owner = current user",
    "Owner = 8",
    'Stage = "Proposal"',
    "Stage = 4",
    'Pipeline = "Sales"',
    'Status = "won"',
    'Status = "open"',
    "Update Time >= last 3 days",
    "Update Time > last 5 days",
    "Update Time < last 1 days",
    "Update Time <= today",
    "Value > 100",
    "NOT Owner = 7",
    'Stage = "Proposal" OR Value < 50',
]
_deals = st.fixed_dictionaries(
    {
        "owner_id": st.sampled_from([7, 8]),
        "stage_id": st.sampled_from([3, 4]),
        "pipeline_id": st.sampled_from([1, 2]),
        "status": st.sampled_from(["open", "won", "lost"]),
        "value": st.integers(0, 200),
        "update_time": st.integers(0, 8 * 24).map(
            lambda hours: (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    }
)


def _server_keeps(params: dict[str, str | int], deal: dict[str, Any]) -> bool:
    for name in ("owner_id", "stage_id", "pipeline_id", "status"):
        if name in params and deal[name] != params[name]:
            return False
    updated = deal["update_time"]
    since, until = params.get("updated_since"), params.get("updated_until")
    return (since is None or updated >= str(since)) and (until is None or updated < str(until))


@settings(max_examples=100, deadline=None)
@given(
    picked=st.lists(st.sampled_from(_CONJUNCTS), min_size=1, max_size=4), deals=st.lists(_deals, max_size=8)
)
def test_server_params_and_residual_select_exactly_what_the_filter_selects(
    picked: list[str], deals: list[dict[str, Any]]
) -> None:
    expression = compile_filter(" AND ".join(picked), DEALS)

    plan = plan_filter(expression, SyncObject.DEAL, now=NOW, current_user_id=7)

    for deal in deals:
        expected = evaluate_filter(expression, deal, now=NOW, current_user_id=7)
        residual_ok = plan.residual is None or evaluate_filter(
            plan.residual, deal, now=NOW, current_user_id=7
        )
        assert (_server_keeps(plan.params, deal) and residual_ok) is expected
