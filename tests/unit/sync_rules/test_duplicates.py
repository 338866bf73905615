import pytest

from schemas.events.source_changes import DuplicateHandling
from sync_rules.duplicates import DuplicateAction, decide_duplicate_action, summary_reason


@pytest.mark.parametrize("handling", list(DuplicateHandling))
def test_without_a_match_every_choice_creates(handling: DuplicateHandling) -> None:
    assert decide_duplicate_action(handling, match_exists=False) is DuplicateAction.CREATE


@pytest.mark.parametrize(
    ("handling", "action"),
    [
        (DuplicateHandling.SKIP_DUPLICATES, DuplicateAction.SKIP),
        (DuplicateHandling.UPDATE_EXISTING, DuplicateAction.UPDATE),
        (DuplicateHandling.CREATE_DUPLICATES, DuplicateAction.CREATE),
    ],
)
def test_with_a_match_the_choice_decides(handling: DuplicateHandling, action: DuplicateAction) -> None:
    assert decide_duplicate_action(handling, match_exists=True) is action


def test_a_duplicate_naming_its_record_is_summed_up_as_duplicate_found() -> None:
    assert (
        summary_reason("Duplicate found: acme.io is linked to Pipedrive organization 12") == "Duplicate found"
    )
    assert summary_reason("Duplicate found") == "Duplicate found"
    assert summary_reason("Required field missing: name") == "Required field missing: name"
