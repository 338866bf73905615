"""Settings through the API: the effective mappings shown (defaults spelled out, the ones the pusher
applies), every mapping checked against the rule book and the connected account's catalog before anything
is saved, and PATCH as a JSON merge patch that changes only what it names."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from schemas.topics import SETTINGS
from sync_rules.mapping_resolution import push_mappings
from tests.integration.connector.conftest import ConnectorHarness
from tests.integration.connector.sandbox_api import SandboxApi

pytestmark = pytest.mark.integration
BOTH_WAYS = dict.fromkeys(
    ("create_in_pipedrive", "update_in_pipedrive", "create_in_abm", "update_in_abm"), True
)
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def _settings(harness: ConnectorHarness) -> dict[str, Any]:
    body: dict[str, Any] = await (await harness.api.get("/v1/settings", headers=harness.headers)).json()
    return body


async def _send(harness: ConnectorHarness, method: str, body: Any) -> tuple[int, dict[str, Any]]:
    headers = {**harness.headers, **(MERGE_PATCH if method == "PATCH" else {})}
    response = await harness.api.request(method, "/v1/settings", json=body, headers=headers)
    return response.status, await response.json()


def _pusher_view(shown: dict[str, Any], obj: SyncObject) -> list[tuple[str, str, str, str]]:
    """What the pusher applies for these settings, as (abm field, Pipedrive key, to Pipedrive, to ABM)."""
    settings = TenantSettings.model_validate({**shown, "version": max(shown["version"], 1)})
    return [
        (m.abm_field, m.pipedrive_key, m.modes.to_pipedrive.value, m.modes.to_abm.value)
        for m in push_mappings(settings, obj)
    ]


def _listed(shown: dict[str, Any], obj: SyncObject) -> list[tuple[str, str, str, str]]:
    """The mapped fields the API shows, as (abm field, Pipedrive key or code, to Pipedrive, to ABM)."""
    return [
        (f["abm_field"], f["field_code"] or f["pipedrive_field"], f["to_pipedrive"], f["to_abm"])
        for f in shown["objects"][obj.value]["fields"]
    ]


async def test_a_new_tenant_sees_the_default_mappings_the_pusher_applies(harness: ConnectorHarness) -> None:
    shown = await _settings(harness)

    organization = shown["objects"]["organization"]
    assert organization["default_fields"] is True
    assert [(f["abm_field"], f["pipedrive_field"]) for f in organization["fields"]] == [
        ("name", "name"),
        ("website", "website"),
        ("address", "address"),
        ("owner", "owner_id"),
        ("add_time", "add_time"),
    ]
    assert {f["to_pipedrive"] for f in organization["fields"][:4]} == {"fill"}
    for obj in SyncObject:
        assert _listed(shown, obj) == _pusher_view(shown, obj)


async def test_configured_mappings_are_shown_as_saved_and_applied_by_the_pusher(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    fields = [
        {"abm_field": "name", "pipedrive_field": "Name", "to_pipedrive": "overwrite", "to_abm": "overwrite"},
        {
            "abm_field": "engagement_score",
            "pipedrive_field": "ABM score",
            "custom": True,
            "to_pipedrive": "overwrite",
        },
    ]

    status, saved = await _send(
        harness, "PUT", {"objects": {"organization": {"directions": BOTH_WAYS, "fields": fields}}}
    )

    assert status == 200, saved
    organization = saved["objects"]["organization"]
    assert organization["default_fields"] is False
    assert [(f["pipedrive_field"], f["to_abm"]) for f in organization["fields"]] == [
        ("name", "overwrite"),
        ("ABM score", "fill"),
    ]
    assert organization["fields"][1]["field_code"] and len(organization["fields"][1]["field_code"]) == 40
    assert _listed(saved, SyncObject.ORGANIZATION) == _pusher_view(saved, SyncObject.ORGANIZATION)
    assert saved["objects"]["person"]["default_fields"] is True


@pytest.mark.parametrize(
    ("objects", "problems"),
    [
        (
            {"organization": {"fields": [{"abm_field": "favourite_colour", "pipedrive_field": "name"}]}},
            ['objects.organization.fields[0].abm_field: ABM accounts have no field "favourite_colour"'],
        ),
        (
            {"deal": {"fields": [{"abm_field": "title", "pipedrive_field": "shoe_size"}]}},
            [
                "objects.deal.fields[0].pipedrive_field:"
                ' this Pipedrive account has no built-in deal field "shoe_size"'
            ],
        ),
        (
            {
                "person": {
                    "fields": [{"abm_field": "job_title", "pipedrive_field": "Job at intake", "custom": True}]
                }
            },
            ["objects.person.fields[0].pipedrive_field: No custom field labelled 'Job at intake'"],
        ),
        (
            {
                "organization": {
                    "fields": [{"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "fill"}]
                }
            },
            ["objects.organization.fields[0].to_pipedrive: fill needs organizations to sync into Pipedrive"],
        ),
        (
            {
                "organization": {
                    "directions": BOTH_WAYS,
                    "fields": [
                        {"abm_field": "add_time", "pipedrive_field": "add_time", "to_pipedrive": "fill"}
                    ],
                }
            },
            ['objects.organization.fields[0].to_pipedrive: "Organization created" is read-only in Pipedrive'],
        ),
        (
            {
                "organization": {
                    "directions": BOTH_WAYS,
                    "fields": [
                        {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "fill"},
                        {
                            "abm_field": "address",
                            "pipedrive_field": "Visible to",
                            "to_pipedrive": "overwrite",
                        },
                        {
                            "abm_field": "industry",
                            "pipedrive_field": "Tier",
                            "custom": True,
                            "to_pipedrive": "fill",
                        },
                        {"abm_field": "country", "pipedrive_field": "employee_count", "to_pipedrive": "fill"},
                    ],
                }
            },
            [
                'objects.organization.fields[1].to_pipedrive: "Visible to" is a visibility field (visible_to)'
                " in Pipedrive and takes one of its visibility options; ABM address holds free text, which"
                " Pipedrive would refuse on every push",
                'objects.organization.fields[2].to_pipedrive: "Tier" is a single-option field (enum)',
                'objects.organization.fields[3].to_pipedrive: "Number of employees" is a whole-number field'
                " (int) in Pipedrive and takes whole numbers or ids; ABM country holds free text",
            ],
        ),
    ],
)
async def test_a_mapping_that_cannot_work_is_a_400_naming_the_field_and_nothing_is_saved(
    harness: ConnectorHarness, objects: dict[str, Any], problems: list[str]
) -> None:
    await harness.connect_by_token()
    before = await _settings(harness)
    published = len(await harness.events(SETTINGS.name))

    for method in ("PUT", "PATCH"):
        status, refused = await _send(harness, method, {"objects": objects})

        assert status == 400 and refused["error"] == "bad_request", refused
        assert len(refused["problems"]) == len(problems), refused
        for given, wanted in zip(refused["problems"], problems, strict=True):
            assert given.startswith(wanted), refused
    assert await _settings(harness) == before
    assert len(await harness.events(SETTINGS.name)) == published


def _into_pipedrive(abm: str, pipedrive: str, custom: bool = False) -> dict[str, Any]:
    return {"abm_field": abm, "pipedrive_field": pipedrive, "custom": custom, "to_pipedrive": "overwrite"}


async def test_mappings_whose_values_fit_their_pipedrive_fields_are_saved(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    objects: dict[str, dict[str, Any]] = {
        "organization": {
            "directions": BOTH_WAYS,
            "fields": [
                _into_pipedrive("name", "name"),
                _into_pipedrive("website", "Website"),
                _into_pipedrive("address", "address"),
                _into_pipedrive("owner", "owner_id"),
                _into_pipedrive("employee_count", "employee_count"),
                _into_pipedrive("annual_revenue", "annual_revenue"),
                _into_pipedrive("linkedin", "linkedin"),
                _into_pipedrive("engagement_score", "ABM score", custom=True),
                _into_pipedrive("country", "Domain", custom=True),
            ],
        },
        "person": {
            "directions": BOTH_WAYS,
            "fields": [
                _into_pipedrive("name", "name"),
                _into_pipedrive("email", "emails"),
                _into_pipedrive("phone", "phones"),
                _into_pipedrive("organization", "org_id"),
                _into_pipedrive("owner", "owner_id"),
                _into_pipedrive("job_title", "Title at intake", custom=True),
            ],
        },
        "deal": {
            "directions": BOTH_WAYS,
            "fields": [
                _into_pipedrive("title", "title"),
                _into_pipedrive("value", "value"),
                _into_pipedrive("stage", "stage_id"),
                _into_pipedrive("pipeline", "pipeline_id"),
                _into_pipedrive("status", "status"),
                _into_pipedrive("expected_close_date", "expected_close_date"),
                _into_pipedrive("person", "person_id"),
                _into_pipedrive("won_time", "won_time"),
                _into_pipedrive("probability", "probability"),
            ],
        },
    }

    status, saved = await _send(harness, "PUT", {"objects": objects})

    assert status == 200, saved
    for obj, given in objects.items():
        assert [f["abm_field"] for f in saved["objects"][obj]["fields"]] == [
            f["abm_field"] for f in given["fields"]
        ]


async def test_a_custom_field_created_after_the_catalog_was_read_is_found(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    assert (await harness.api.get("/v1/catalog", headers=harness.headers)).status == 200
    sandbox = SandboxApi(harness.sandbox)
    await sandbox.call(
        "POST", "/api/v2/organizationFields", json={"field_name": "Region", "field_type": "varchar"}
    )
    harness.sandbox.handle.state.clock.advance(61)  # the stored catalog is now older than a minute
    mapping = {"abm_field": "country", "pipedrive_field": "Region", "custom": True}

    status, saved = await _send(harness, "PATCH", {"objects": {"organization": {"fields": [mapping]}}})

    assert status == 200, saved
    assert saved["objects"]["organization"]["fields"][0]["field_code"]


async def test_mapping_fields_needs_a_connection_but_other_settings_do_not(harness: ConnectorHarness) -> None:
    mapping = {"abm_field": "name", "pipedrive_field": "name"}

    refused, _ = await _send(harness, "PUT", {"objects": {"organization": {"fields": [mapping]}}})
    accepted, saved = await _send(harness, "PATCH", {"frequency": "1h"})

    assert refused == 409
    assert accepted == 200 and saved["frequency"] == "1h"


async def test_patch_changes_only_what_it_names_and_put_replaces_everything(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    mapping = {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "overwrite"}
    status, first = await _send(
        harness,
        "PUT",
        {
            "objects": {"organization": {"directions": BOTH_WAYS, "fields": [mapping]}},
            "frequency": "6h",
            "auto_push": {"enabled": True, "score_threshold": 15},
            "organization_domain": {"custom_field_label": "Domain"},
        },
    )
    assert status == 200, first

    status, frequency = await _send(harness, "PATCH", {"frequency": "1h"})
    status_2, person = await _send(harness, "PATCH", {"objects": {"person": {"directions": BOTH_WAYS}}})
    status_3, no_domain = await _send(harness, "PATCH", {"organization_domain": {"custom_field_label": None}})

    assert (status, status_2, status_3) == (200, 200, 200)
    assert frequency["frequency"] == "1h" and frequency["version"] == first["version"] + 1
    assert {k: v for k, v in frequency.items() if k not in ("frequency", "version")} == {
        k: v for k, v in first.items() if k not in ("frequency", "version")
    }
    assert person["objects"]["person"]["directions"] == BOTH_WAYS
    assert person["objects"]["organization"] == first["objects"]["organization"]
    assert person["auto_push"] == {**first["auto_push"]}
    assert first["organization_domain"]["custom_field_code"]
    assert no_domain["organization_domain"] == {
        "custom_field_label": None,
        "custom_field_code": None,
        "keep_subdomains": False,
    }
    assert no_domain["objects"] == person["objects"] and no_domain["frequency"] == "1h"

    status, replaced = await _send(harness, "PUT", {"frequency": "24h"})
    assert status == 200
    assert replaced["objects"]["organization"]["default_fields"] is True
    assert replaced["auto_push"]["enabled"] is False


async def test_a_bad_patch_is_a_400_and_saves_nothing(harness: ConnectorHarness) -> None:
    before = await _settings(harness)

    bodies: list[Any] = [{"frequency": "2h"}, {"objects": {"planet": {}}}, {"unknown": 1}, ["frequency"]]
    for body in bodies:
        status, refused = await _send(harness, "PATCH", body)
        assert status == 400 and refused["error"] == "bad_request", refused

    assert await _settings(harness) == before


async def test_mappings_saved_before_stay_when_the_account_is_not_connected_anymore(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    mapping = {"abm_field": "industry", "pipedrive_field": "Domain", "custom": True, "to_abm": "overwrite"}
    saved_status, _ = await _send(harness, "PUT", {"objects": {"organization": {"fields": [mapping]}}})
    assert (await harness.api.delete("/v1/connection", headers=harness.headers)).status == 200

    status, saved = await _send(harness, "PATCH", {"frequency": "1h"})

    assert saved_status == 200 and status == 200, saved
    assert saved["objects"]["organization"]["fields"][0]["pipedrive_field"] == "Domain"


def _as_input(shown: dict[str, Any]) -> dict[str, Any]:
    """The settings GET shows, as the body of a PUT (the read-only parts left out)."""
    mapping_keys = ("abm_field", "pipedrive_field", "custom", "to_pipedrive", "to_abm")
    return {
        "objects": {
            name: {
                "directions": spec["directions"],
                "fields": [{k: f[k] for k in mapping_keys} for f in spec["fields"]],
            }
            for name, spec in shown["objects"].items()
        },
        "frequency": shown["frequency"],
        "auto_push": shown["auto_push"],
        "organization_domain": {
            k: shown["organization_domain"][k] for k in ("custom_field_label", "keep_subdomains")
        },
    }


async def test_the_settings_shown_can_be_put_back_as_they_are(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    shown = await _settings(harness)  # the defaults: Fill into Pipedrive, which the directions do not take

    status, saved = await _send(harness, "PUT", _as_input(shown))

    assert status == 200, saved
    for obj in SyncObject:
        assert _listed(saved, obj) == _listed(shown, obj)
        assert saved["objects"][obj.value]["directions"] == shown["objects"][obj.value]["directions"]


async def test_a_direction_switched_off_keeps_the_modes_of_its_fields(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    fields = [{"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "overwrite"}]
    status, first = await _send(
        harness, "PUT", {"objects": {"organization": {"directions": BOTH_WAYS, "fields": fields}}}
    )
    assert status == 200, first
    into_abm_only = {"create_in_pipedrive": False, "update_in_pipedrive": False}

    status, switched = await _send(
        harness, "PATCH", {"objects": {"organization": {"directions": into_abm_only}}}
    )

    assert status == 200, switched
    organization = switched["objects"]["organization"]
    assert organization["directions"] == {**BOTH_WAYS, **into_abm_only}
    assert organization["fields"] == first["objects"]["organization"]["fields"]
