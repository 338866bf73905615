from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events.settings import FieldMode
from sync_rules.diffs import (
    Side,
    apply_changes,
    compute_changes,
    compute_two_way_changes,
    conflict_winner,
    is_empty,
)
from sync_rules.field_modes import FieldModes

FILL, OVERWRITE, DONT = FieldMode.FILL, FieldMode.OVERWRITE, FieldMode.DONT_SYNC
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "   ", [], {}])
def test_empty_values(value: object) -> None:
    assert is_empty(value) is True


@pytest.mark.parametrize("value", [0, False, "x", [1], {"a": 1}])
def test_non_empty_values(value: object) -> None:
    assert is_empty(value) is False


def test_fill_writes_only_where_the_target_is_empty() -> None:
    source = {"name": "Acme", "phone": "123", "city": "Berlin"}
    target = {"name": "ACME Ltd", "phone": "", "city": None}

    changes = compute_changes(source, target, {"name": FILL, "phone": FILL, "city": FILL})

    assert changes == {"phone": "123", "city": "Berlin"}


def test_overwrite_writes_where_the_source_differs() -> None:
    source = {"name": "Acme", "city": "Berlin"}
    target = {"name": "ACME Ltd", "city": "Berlin"}

    assert compute_changes(source, target, {"name": OVERWRITE, "city": OVERWRITE}) == {"name": "Acme"}


def test_empty_source_never_clears_the_target() -> None:
    source = {"name": "", "city": None}
    target = {"name": "Acme", "city": "Berlin"}

    assert compute_changes(source, target, {"name": OVERWRITE, "city": FILL}) == {}


def test_dont_sync_and_unmapped_fields_are_never_written() -> None:
    source = {"name": "Acme", "secret": "x"}

    assert compute_changes(source, {}, {"name": DONT}) == {}


def test_zero_is_a_value_that_overwrites() -> None:
    assert compute_changes({"value": 0}, {"value": 500}, {"value": OVERWRITE}) == {"value": 0}


def test_applying_changes_copies_the_target() -> None:
    target = {"name": "Old", "city": "Berlin"}

    result = apply_changes(target, {"name": "New"})

    assert result == {"name": "New", "city": "Berlin"}
    assert target == {"name": "Old", "city": "Berlin"}


def test_two_way_conflict_goes_to_the_most_recent_change() -> None:
    modes = {"name": FieldModes(OVERWRITE, OVERWRITE)}

    abm_newer = compute_two_way_changes(
        {"name": "PD"},
        {"name": "ABM"},
        modes,
        pipedrive_changed_at=T0,
        abm_changed_at=T0 + timedelta(seconds=1),
    )
    pipedrive_newer = compute_two_way_changes(
        {"name": "PD"},
        {"name": "ABM"},
        modes,
        pipedrive_changed_at=T0 + timedelta(seconds=1),
        abm_changed_at=T0,
    )

    assert (abm_newer.to_pipedrive, abm_newer.to_abm) == ({"name": "ABM"}, {})
    assert (pipedrive_newer.to_pipedrive, pipedrive_newer.to_abm) == ({}, {"name": "PD"})


def test_two_way_tie_goes_to_pipedrive() -> None:
    modes = {"name": FieldModes(OVERWRITE, OVERWRITE)}

    changes = compute_two_way_changes(
        {"name": "PD"}, {"name": "ABM"}, modes, pipedrive_changed_at=T0, abm_changed_at=T0
    )

    assert (changes.to_pipedrive, changes.to_abm) == ({}, {"name": "PD"})


def test_unknown_change_time_loses() -> None:
    assert conflict_winner(None, T0) is Side.ABM
    assert conflict_winner(T0, None) is Side.PIPEDRIVE
    assert conflict_winner(None, None) is Side.PIPEDRIVE


def test_two_way_fill_and_overwrite_fields_follow_their_own_direction() -> None:
    modes = {
        "phone": FieldModes(to_pipedrive=FILL, to_abm=OVERWRITE),
        "city": FieldModes(to_pipedrive=OVERWRITE, to_abm=FILL),
        "score": FieldModes(to_pipedrive=OVERWRITE, to_abm=DONT),
    }
    pipedrive = {"phone": "", "city": "Paris", "score": 10}
    abm = {"phone": "555", "city": "Berlin", "score": 80}

    changes = compute_two_way_changes(pipedrive, abm, modes, pipedrive_changed_at=T0, abm_changed_at=T0)

    assert changes.to_pipedrive == {"phone": "555", "city": "Berlin", "score": 80}
    assert changes.to_abm == {}


def test_two_way_empty_side_is_filled_not_cleared() -> None:
    modes = {"name": FieldModes(OVERWRITE, OVERWRITE)}

    changes = compute_two_way_changes(
        {"name": None}, {"name": "ABM"}, modes, pipedrive_changed_at=T0 + timedelta(days=1), abm_changed_at=T0
    )

    assert (changes.to_pipedrive, changes.to_abm) == ({"name": "ABM"}, {})


_values = st.one_of(st.none(), st.just(""), st.text(max_size=4), st.integers(-3, 3))
_records = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _values, max_size=4)
_modes = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(list(FieldMode)), max_size=4)


@settings(max_examples=100, deadline=None)
@given(source=_records, target=_records)
def test_overwrite_diff_applied_gives_the_source_wherever_the_source_has_a_value(
    source: dict[str, Any], target: dict[str, Any]
) -> None:
    modes = dict.fromkeys(["a", "b", "c", "d"], OVERWRITE)

    result = apply_changes(target, compute_changes(source, target, modes))

    for name in modes:
        expected = target.get(name) if is_empty(source.get(name)) else source.get(name)
        assert result.get(name) == expected


@settings(max_examples=100, deadline=None)
@given(source=_records, target=_records, modes=_modes)
def test_diff_applied_gives_the_expected_target_and_a_second_diff_is_empty(
    source: dict[str, Any], target: dict[str, Any], modes: dict[str, FieldMode]
) -> None:
    result = apply_changes(target, compute_changes(source, target, modes))

    for name, mode in modes.items():
        before, value = target.get(name), source.get(name)
        if mode is DONT or is_empty(value) or (mode is FILL and not is_empty(before)):
            assert result.get(name) == before
        else:
            assert result.get(name) == value
    assert compute_changes(source, result, modes) == {}


@settings(max_examples=100, deadline=None)
@given(pipedrive=_records, abm=_records, abm_later=st.booleans())
def test_two_way_overwrite_leaves_both_sides_equal(
    pipedrive: dict[str, Any], abm: dict[str, Any], abm_later: bool
) -> None:
    modes = dict.fromkeys(["a", "b", "c", "d"], FieldModes(OVERWRITE, OVERWRITE))
    abm_time = T0 + timedelta(seconds=1 if abm_later else 0)

    changes = compute_two_way_changes(pipedrive, abm, modes, pipedrive_changed_at=T0, abm_changed_at=abm_time)
    new_pipedrive = apply_changes(pipedrive, changes.to_pipedrive)
    new_abm = apply_changes(abm, changes.to_abm)

    for name in modes:
        if not (is_empty(pipedrive.get(name)) and is_empty(abm.get(name))):
            assert new_pipedrive.get(name) == new_abm.get(name)
