"""The admin API (ledger, faults, revocation, change generator, reseed, clock) and deterministic seeding."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pipedrive_sandbox import SandboxConfig
from pipedrive_sandbox.ledger import token_fingerprint
from pipedrive_sandbox.seed import seed_company
from pipedrive_sandbox.store import Entity
from tests.sandbox.conftest import API_TOKEN, START, SandboxClient


async def _admin(client: SandboxClient, method: str, path: str, body: Any = None) -> Any:
    reply = await client.call(method, f"/_sandbox{path}", json=body)
    assert reply.status == 200, reply.body
    return reply.body


async def test_the_ledger_records_every_call_with_its_cost_per_company_and_token(
    sandbox: SandboxClient,
) -> None:
    await sandbox.call("GET", "/api/v2/organizations", params={"limit": 5})
    await sandbox.call("PATCH", "/api/v2/organizations/2", json={"name": "Ledgered"})
    sandbox.token = "wrong"
    await sandbox.call("GET", "/api/v2/organizations/2", check_request=True)

    ledger = await _admin(sandbox, "GET", "/ledger")

    fingerprint = token_fingerprint(API_TOKEN)
    assert [(e["operation_id"], e["tokens"], e["status"]) for e in ledger["entries"]] == [
        ("getOrganizations", 10, 200),
        ("updateOrganization", 5, 200),
        ("getOrganization", 0, 401),
    ]
    assert ledger["summary"]["tokens_by_token"] == {fingerprint: 15, "None": 0}
    assert ledger["summary"]["tokens_by_company"]["8087566"] == 15


async def test_the_ledger_can_be_reset(sandbox: SandboxClient) -> None:
    await sandbox.call("GET", "/api/v2/organizations/2")

    await _admin(sandbox, "DELETE", "/ledger")

    assert (await _admin(sandbox, "GET", "/ledger"))["summary"]["calls"] == 0


async def test_a_429_storm_for_n_requests_then_normal_service(sandbox: SandboxClient) -> None:
    await _admin(sandbox, "POST", "/faults", {"storm_requests": 3})

    statuses = [(await sandbox.call("GET", "/api/v2/organizations/2")).status for _ in range(4)]

    assert statuses == [429, 429, 429, 200]


async def test_a_429_storm_for_n_seconds_ends_when_the_clock_passes_it(sandbox: SandboxClient) -> None:
    await _admin(sandbox, "POST", "/faults", {"storm_seconds": 30})
    during = await sandbox.call("GET", "/api/v2/organizations/2")
    await _admin(sandbox, "POST", "/clock/advance", {"seconds": 30})

    after = await sandbox.call("GET", "/api/v2/organizations/2")

    assert (during.status, after.status) == (429, 200)


async def test_a_share_of_5xx_answers_is_injected_and_not_charged(sandbox: SandboxClient) -> None:
    await _admin(sandbox, "POST", "/faults", {"error_share": 1.0, "error_status": 502})

    reply = await sandbox.call("GET", "/api/v2/organizations/2")

    assert reply.status == 502
    assert sandbox.handle.state.limiter.spent_today == 0


async def test_clearing_faults_restores_service(sandbox: SandboxClient) -> None:
    await _admin(sandbox, "POST", "/faults", {"error_share": 1.0, "latency_ms": 1})
    await _admin(sandbox, "DELETE", "/faults")

    reply = await sandbox.call("GET", "/api/v2/organizations/2")

    assert reply.status == 200


async def test_a_revoked_api_token_gets_401(sandbox: SandboxClient) -> None:
    await _admin(sandbox, "POST", "/tokens/revoke", {"token": API_TOKEN})

    reply = await sandbox.call("GET", "/v1/users/me")

    assert reply.status == 401 and reply.body["error"] == "unauthorized access"


async def test_the_change_generator_edits_deletes_and_merges_as_the_app(sandbox: SandboxClient) -> None:
    result = await _admin(
        sandbox, "POST", "/changes", {"entity": "organization", "edits": 3, "deletes": 2, "merges": 1}
    )

    actions = [c["action"] for c in result["changes"]]
    deleted_ids = [c["id"] for c in result["changes"] if c["action"] in ("delete", "merge")]
    listed = await sandbox.call(
        "GET", "/api/v2/organizations", params={"ids": ",".join(map(str, deleted_ids))}
    )
    assert actions == ["change"] * 3 + ["delete"] * 2 + ["merge"]
    assert listed.body["data"] == []


async def test_edits_between_pages_are_made_once_just_before_the_first_later_page(
    sandbox: SandboxClient,
) -> None:
    recents = {"since_timestamp": "2020-01-01 00:00:00", "items": "organization", "limit": 3}
    listed = [i["id"] for i in (await sandbox.get("/v1/recents", **{**recents, "limit": 100})).body["data"]]
    await _admin(sandbox, "POST", "/clock/advance", {"seconds": 60})
    edited = listed[:2]
    asked = await _admin(
        sandbox, "POST", "/between-pages", {"ids": edited, "changes": {"name": "Edited between pages"}}
    )

    first = await sandbox.get("/v1/recents", start=0, **recents)
    before = await _admin(sandbox, "GET", "/between-pages")
    pages = [await sandbox.get("/v1/recents", start=start, **recents) for start in (3, 6, 9)]
    after = await _admin(sandbox, "GET", "/between-pages")

    assert len(listed) >= 9
    assert asked["edits"][0]["done"] is False and before == asked
    assert [i["id"] for i in first.body["data"]] == listed[:3]
    assert (after["edits"][0]["done"], after["edits"][0]["done_ids"]) == (True, edited)
    # The two edited records moved to the end, every item after them two places back, and only once.
    moved = listed[2:] + sorted(edited)  # one update time: by id
    assert [i["id"] for page in pages for i in page.body["data"]] == moved[3:]
    assert {i["data"]["name"] for page in pages for i in page.body["data"] if i["id"] in edited} == {
        "Edited between pages"
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/faults", {"storm_seconds": "x"}),
        ("/faults", {"error_status": "x"}),
        ("/faults", {"latency_ms": [1]}),
        ("/changes", {"edits": "x"}),
        ("/changes", {"deletes": 10**18}),
        ("/changes", {"merges": -1}),
        ("/clock/advance", {"seconds": "x"}),
        ("/clock/advance", {"seconds": 1e300}),
        ("/seed", {"organizations": -1}),
        ("/seed", {"seed": "x"}),
        ("/between-pages", {"ids": [1], "changes": {"name": "a"}, "entity": 5}),
    ],
)
async def test_bad_admin_input_is_a_400_naming_what_is_wrong(
    sandbox: SandboxClient, path: str, body: dict[str, Any]
) -> None:
    # Found by probing `make up`: these were aiohttp's plain-text 500, and a huge count of changes kept
    # the sandbox busy for good.
    reply = await sandbox.call("POST", f"/_sandbox{path}", json=body)

    assert reply.status == 400, reply.body
    assert reply.body["success"] is False and reply.body["error"]


async def test_reseeding_replaces_the_data(sandbox: SandboxClient) -> None:
    state = await _admin(sandbox, "POST", "/seed", {"organizations": 5})

    listed = await sandbox.call("GET", "/api/v2/organizations")

    assert state["records"]["organizations"] == 5
    assert len(listed.body["data"]) == 5


def test_seeding_is_deterministic_from_the_seed() -> None:
    config = SandboxConfig(organizations=300, seed=11)

    first, second = seed_company(config, int(START)), seed_company(config, int(START))
    other = seed_company(config.model_copy(update={"seed": 12}), int(START))

    assert [r.data for r in first.tables[Entity.ORGANIZATION].records.values()] == [
        r.data for r in second.tables[Entity.ORGANIZATION].records.values()
    ]
    assert (
        first.tables[Entity.ORGANIZATION].records[1].data != other.tables[Entity.ORGANIZATION].records[1].data
    )


def test_seeded_websites_come_in_messy_forms_and_some_are_shared_or_missing() -> None:
    seeded = seed_company(SandboxConfig(organizations=2000, seed=3), int(START))
    websites = [r.data["website"] for r in seeded.tables[Entity.ORGANIZATION].records.values()]
    present = [w for w in websites if w]

    assert any(w is None for w in websites)
    assert any(w.startswith("https://") for w in present) and any(not w.startswith("http") for w in present)
    assert any("www." in w.lower() for w in present) and any(w != w.lower() for w in present)
    assert any("/" in w.split("://")[-1] for w in present) and any(
        w.split("/")[0].endswith(".") for w in present
    )
    hosts = [re.sub(r"^(https?://)?(www\.)?", "", w.lower()).split("/")[0].rstrip(".") for w in present]
    assert len(set(hosts)) < len(hosts)


def test_seeded_persons_have_several_emails_some_personal_some_shared() -> None:
    seeded = seed_company(SandboxConfig(organizations=500, seed=3), int(START))
    emails = [e["value"] for r in seeded.tables[Entity.PERSON].records.values() for e in r.data["emails"]]

    assert any(len(r.data["emails"]) > 1 for r in seeded.tables[Entity.PERSON].records.values())
    assert any(e.endswith("@gmail.com") for e in emails)
    assert len(set(emails)) < len(emails)


def test_custom_field_codes_are_40_hex() -> None:
    seeded = seed_company(SandboxConfig(organizations=1, seed=3), int(START))

    codes = [code for entity in Entity for code in seeded.account.custom_fields(entity)]

    assert codes and all(re.fullmatch(r"[0-9a-f]{40}", code) for code in codes)


def test_seeded_deals_span_pipelines_currencies_and_statuses() -> None:
    seeded = seed_company(SandboxConfig(organizations=300, seed=3), int(START))
    deals = [r.data for r in seeded.tables[Entity.DEAL].records.values()]

    assert {d["pipeline_id"] for d in deals} == {1, 2}
    assert {d["status"] for d in deals} == {"open", "won", "lost"}
    assert len({d["currency"] for d in deals}) >= 3


async def test_activities_are_counted_in_the_state_and_cleared_by_a_reseed(sandbox: SandboxClient) -> None:
    await sandbox.call("POST", "/api/v2/activities", json={"subject": "Visit", "org_id": 1, "done": True})

    before = await _admin(sandbox, "GET", "/state")
    after = await _admin(sandbox, "POST", "/seed", {"organizations": 5})

    assert before["records"]["activities"] == 1
    assert after["records"]["activities"] == 0
