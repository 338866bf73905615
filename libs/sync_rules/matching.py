"""The matching order as one pure decision: stored link, then match key, then create when allowed."""

from dataclasses import dataclass
from enum import StrEnum

from frozen_values import frozen_value
from schemas.events.source_changes import DuplicateHandling
from sync_rules.duplicates import DUPLICATE_FOUND, DuplicateAction, decide_duplicate_action
from sync_rules.objects import SyncObject

TargetId = int | str

_KEY_NAMES = {
    SyncObject.ORGANIZATION: "a website domain",
    SyncObject.PERSON: "an email address",
    SyncObject.DEAL: "a Pipedrive deal id",
}


class MatchedBy(StrEnum):
    """How an existing target record was found."""

    LINK = "link"
    MATCH_KEY = "match_key"


@frozen_value
class MatchInput:
    """What is known about one source record before deciding.

    ``linked_id`` is the target id of a stored link; ``key_match_id`` the target record found by the match
    key (None when the key found nothing or there is no key); ``key_match_linked_to`` the Pipedrive id of
    another record of the object that record is linked to already (None when no live link holds it).
    ``duplicate_handling`` is set for imports.
    """

    sync_object: SyncObject
    match_key: str | None
    linked_id: TargetId | None = None
    key_match_id: TargetId | None = None
    may_create: bool = True
    may_update: bool = True
    duplicate_handling: DuplicateHandling | None = None
    key_match_linked_to: int | None = None


@dataclass(frozen=True)
class MatchDecision:
    """What to do with the record: create, update ``target_id``, or skip with ``message`` (a Warning)."""

    action: DuplicateAction
    target_id: TargetId | None = None
    matched_by: MatchedBy | None = None
    message: str | None = None


_CREATE = MatchDecision(DuplicateAction.CREATE)
"""The decision to create (a frozen value: one for every record created)."""


def decide_match(given: MatchInput) -> MatchDecision:
    """Decide create / update / skip for one record, following DESIGN.md section 5.

    A stored link wins over the match key. A record without a usable key is never matched: it is created
    only under "create duplicates", otherwise skipped. An import's duplicate handling is about records it
    finds by their match key; a record linked to this very Pipedrive record is not a duplicate of it: it
    is updated as a sync updates it (or found unchanged), whatever the handling. So re-running an import
    does not copy what it already imported ("create duplicates" never creates a linked record again), nor
    report it as a duplicate ("skip duplicates" once skipped it with `Duplicate found`, and a re-import
    of unchanged data ended in Warning).

    An ABM record is linked to one Pipedrive record of an object: a record whose match key finds an ABM
    record linked to another Pipedrive record is a duplicate of that one, skipped (in a sync as in an
    import) with a message naming it, unless the import creates duplicates (then it gets a record of its
    own). Updating the record and linking it too would leave it following whichever of the two changed
    last. A merge re-points links by Pipedrive id, not by key: it is not decided here.
    """
    if given.linked_id is not None:
        return _existing(given, DuplicateHandling.UPDATE_EXISTING, given.linked_id, MatchedBy.LINK)
    if given.match_key is None:
        if given.duplicate_handling is DuplicateHandling.CREATE_DUPLICATES:
            return _create(given)
        return _skip(
            f"No usable match key: the {given.sync_object.value} needs {_KEY_NAMES[given.sync_object]}"
        )
    if given.key_match_id is not None:
        handling = given.duplicate_handling or DuplicateHandling.UPDATE_EXISTING
        if given.key_match_linked_to is not None and handling is not DuplicateHandling.CREATE_DUPLICATES:
            return MatchDecision(
                DuplicateAction.SKIP, given.key_match_id, MatchedBy.MATCH_KEY, linked_duplicate_message(given)
            )
        return _existing(given, handling, given.key_match_id, MatchedBy.MATCH_KEY)
    return _create(given)


def linked_duplicate_message(given: MatchInput) -> str:
    """Why a record is skipped whose match key finds an ABM record linked to another Pipedrive record:
    `Duplicate found: acme.com is linked to Pipedrive organization 12`."""
    return (
        f"{DUPLICATE_FOUND}: {given.match_key} is linked to Pipedrive {given.sync_object.value}"
        f" {given.key_match_linked_to}"
    )


def _existing(
    given: MatchInput, handling: DuplicateHandling, target: TargetId, by: MatchedBy
) -> MatchDecision:
    action = decide_duplicate_action(handling, match_exists=True)
    if action is DuplicateAction.SKIP:
        return MatchDecision(DuplicateAction.SKIP, target, by, DUPLICATE_FOUND)
    if action is DuplicateAction.CREATE:
        return _create(given)
    if not given.may_update:
        return MatchDecision(
            DuplicateAction.SKIP, target, by, f"Updating {given.sync_object.value}s is turned off"
        )
    return MatchDecision(DuplicateAction.UPDATE, target, by)


def _create(given: MatchInput) -> MatchDecision:
    if not given.may_create:
        return _skip(f"Creating {given.sync_object.value}s is turned off")
    return _CREATE


def _skip(message: str) -> MatchDecision:
    return MatchDecision(DuplicateAction.SKIP, message=message)
