import pytest

from schemas.events.source_changes import DuplicateHandling
from sync_rules.duplicates import DuplicateAction
from sync_rules.matching import MatchDecision, MatchedBy, MatchInput, decide_match
from sync_rules.objects import SyncObject

ORG = SyncObject.ORGANIZATION


def test_stored_link_wins_over_the_match_key() -> None:
    decision = decide_match(MatchInput(ORG, "acme.com", linked_id=7, key_match_id=9))

    assert decision == MatchDecision(DuplicateAction.UPDATE, 7, MatchedBy.LINK)


def test_match_key_is_used_when_there_is_no_link() -> None:
    decision = decide_match(MatchInput(ORG, "acme.com", key_match_id=9))

    assert decision == MatchDecision(DuplicateAction.UPDATE, 9, MatchedBy.MATCH_KEY)


def test_unmatched_record_is_created_when_creating_is_allowed() -> None:
    assert decide_match(MatchInput(ORG, "acme.com")).action is DuplicateAction.CREATE


def test_unmatched_record_is_skipped_when_creating_is_off() -> None:
    decision = decide_match(MatchInput(ORG, "acme.com", may_create=False))

    assert decision.action is DuplicateAction.SKIP
    assert decision.message == "Creating organizations is turned off"


def test_matched_record_is_skipped_when_updating_is_off() -> None:
    decision = decide_match(MatchInput(ORG, "acme.com", key_match_id=9, may_update=False))

    assert decision.action is DuplicateAction.SKIP
    assert decision.target_id == 9


def test_record_without_key_is_never_matched_and_skipped_with_a_reason() -> None:
    decision = decide_match(MatchInput(SyncObject.PERSON, None, key_match_id=5))

    assert decision.action is DuplicateAction.SKIP
    assert decision.message == "No usable match key: the person needs an email address"


def test_record_without_key_is_created_only_under_create_duplicates() -> None:
    create = MatchInput(ORG, None, duplicate_handling=DuplicateHandling.CREATE_DUPLICATES)
    update = MatchInput(ORG, None, duplicate_handling=DuplicateHandling.UPDATE_EXISTING)

    assert decide_match(create).action is DuplicateAction.CREATE
    assert decide_match(update).action is DuplicateAction.SKIP


def test_import_skip_duplicates_reports_duplicate_found() -> None:
    given = MatchInput(ORG, "acme.com", key_match_id=9, duplicate_handling=DuplicateHandling.SKIP_DUPLICATES)

    assert decide_match(given) == MatchDecision(
        DuplicateAction.SKIP, 9, MatchedBy.MATCH_KEY, "Duplicate found"
    )


def test_import_create_duplicates_creates_beside_a_key_match() -> None:
    given = MatchInput(
        ORG, "acme.com", key_match_id=9, duplicate_handling=DuplicateHandling.CREATE_DUPLICATES
    )

    assert decide_match(given) == MatchDecision(DuplicateAction.CREATE)


def test_import_create_duplicates_never_recreates_a_linked_record() -> None:
    given = MatchInput(ORG, "acme.com", linked_id=7, duplicate_handling=DuplicateHandling.CREATE_DUPLICATES)

    assert decide_match(given) == MatchDecision(DuplicateAction.UPDATE, 7, MatchedBy.LINK)


def test_create_duplicates_still_obeys_the_create_switch() -> None:
    given = MatchInput(ORG, None, may_create=False, duplicate_handling=DuplicateHandling.CREATE_DUPLICATES)

    assert decide_match(given).action is DuplicateAction.SKIP


def test_a_record_linked_to_this_very_pipedrive_record_is_no_duplicate_under_any_handling() -> None:
    for handling in DuplicateHandling:
        given = MatchInput(ORG, "acme.com", linked_id=7, key_match_id=7, duplicate_handling=handling)

        assert decide_match(given) == MatchDecision(DuplicateAction.UPDATE, 7, MatchedBy.LINK), handling


def test_a_linked_record_is_still_not_updated_when_updating_is_off() -> None:
    given = MatchInput(
        ORG, "acme.com", linked_id=7, may_update=False, duplicate_handling=DuplicateHandling.SKIP_DUPLICATES
    )

    decision = decide_match(given)
    assert (decision.action, decision.message) == (
        DuplicateAction.SKIP,
        "Updating organizations is turned off",
    )


@pytest.mark.parametrize(
    "handling", [None, DuplicateHandling.SKIP_DUPLICATES, DuplicateHandling.UPDATE_EXISTING]
)
def test_a_key_match_linked_to_another_pipedrive_record_is_a_duplicate_naming_it(
    handling: DuplicateHandling | None,
) -> None:
    given = MatchInput(ORG, "acme.com", key_match_id=9, duplicate_handling=handling, key_match_linked_to=12)

    assert decide_match(given) == MatchDecision(
        DuplicateAction.SKIP,
        9,
        MatchedBy.MATCH_KEY,
        "Duplicate found: acme.com is linked to Pipedrive organization 12",
    )


def test_create_duplicates_gives_a_key_match_linked_to_another_record_a_record_of_its_own() -> None:
    given = MatchInput(
        ORG, "acme.com", key_match_id=9, duplicate_handling=DuplicateHandling.CREATE_DUPLICATES,
        key_match_linked_to=12,
    )  # fmt: skip

    assert decide_match(given) == MatchDecision(DuplicateAction.CREATE)


def test_a_person_whose_email_is_linked_to_another_person_is_a_duplicate_naming_it() -> None:
    given = MatchInput(SyncObject.PERSON, "ann@acme-rv.com", key_match_id="c1", key_match_linked_to=5)

    assert decide_match(given).message == "Duplicate found: ann@acme-rv.com is linked to Pipedrive person 5"
