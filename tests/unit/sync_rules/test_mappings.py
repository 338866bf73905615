import pytest

from schemas.events.settings import FieldMode
from sync_rules.field_modes import FieldModes
from sync_rules.mappings import (
    CustomFieldMapping,
    CustomFieldResolutionError,
    FieldDefinition,
    FieldMapping,
    default_mappings,
    modes_by_abm_field,
    parse_field_definitions,
    resolve_custom_field_code,
    resolve_custom_mappings,
    to_abm_fields,
    to_pipedrive_body,
)
from sync_rules.objects import SyncObject

SCORE = "0123456789abcdef0123456789abcdef01234567"
DEFINITIONS = parse_field_definitions(
    [
        {"field_code": "name", "field_name": "Name", "is_custom_field": False},
        {"field_code": SCORE, "field_name": "Engagement  Score", "is_custom_field": True},
        {"field_code": "b" * 40, "field_name": "Tier", "is_custom_field": True},
        {"field_code": "c" * 40, "field_name": "tier", "is_custom_field": True},
    ]
)


@pytest.mark.parametrize(
    ("sync_object", "keys"),
    [
        (SyncObject.ORGANIZATION, ["name", "website", "address", "owner_id", "add_time"]),
        (SyncObject.PERSON, ["name", "emails", "phones", "org_id", "owner_id"]),
        (
            SyncObject.DEAL,
            [
                "title",
                "value",
                "currency",
                "stage_id",
                "expected_close_date",
                "status",
                "org_id",
                "person_id",
            ],
        ),
    ],
)
def test_default_mappings_follow_the_seed_tables(sync_object: SyncObject, keys: list[str]) -> None:
    assert [m.pipedrive_key for m in default_mappings(sync_object)] == keys


def test_default_owner_is_never_overwritten_in_pipedrive() -> None:
    owner = next(m for m in default_mappings(SyncObject.ORGANIZATION) if m.abm_field == "owner")

    assert owner.modes.to_pipedrive is FieldMode.FILL


def test_custom_field_label_resolves_to_its_code_ignoring_case_and_spacing() -> None:
    assert resolve_custom_field_code("engagement score", DEFINITIONS) == SCORE


def test_native_field_is_not_a_custom_field() -> None:
    with pytest.raises(CustomFieldResolutionError, match="No custom field labelled 'Name'"):
        resolve_custom_field_code("Name", DEFINITIONS)


def test_ambiguous_custom_field_label_is_rejected() -> None:
    with pytest.raises(CustomFieldResolutionError, match="2 custom fields are labelled 'Tier'"):
        resolve_custom_field_code("Tier", DEFINITIONS)


def test_custom_mappings_resolve_per_account() -> None:
    modes = FieldModes(to_pipedrive=FieldMode.OVERWRITE)
    resolved = resolve_custom_mappings(
        [CustomFieldMapping("engagement_score", "Engagement Score", modes)], DEFINITIONS
    )

    assert resolved == (FieldMapping("engagement_score", SCORE, modes, custom=True),)


def test_records_translate_both_ways_including_custom_fields() -> None:
    mappings = (
        *default_mappings(SyncObject.ORGANIZATION)[:2],
        FieldMapping("engagement_score", SCORE, FieldModes(FieldMode.OVERWRITE), custom=True),
    )
    record = {"id": 3, "name": "Acme", "website": "acme.com", "custom_fields": {SCORE: 42}}

    abm = to_abm_fields(record, mappings)
    body = to_pipedrive_body({"name": "Acme2", "engagement_score": 50}, mappings)

    assert abm == {"name": "Acme", "website": "acme.com", "engagement_score": 42}
    assert body == {"name": "Acme2", "custom_fields": {SCORE: 50}}
    assert set(modes_by_abm_field(mappings)) == {"name", "website", "engagement_score"}


def test_field_definition_keeps_code_and_label() -> None:
    assert DEFINITIONS[1] == FieldDefinition(SCORE, "Engagement  Score", True)
