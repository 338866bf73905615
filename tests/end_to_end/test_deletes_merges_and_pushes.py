"""Deletes, merges, 404s, webhook runs and pushes by ABM id, seen only from outside: the sandbox's API (as
the people using Pipedrive), the services' HTTP APIs (as the admin) and the `abm.*` topics (as the ABM
platform). Every service runs as its own process on fresh schemas and consumer groups (one stack for the
package, `conftest.py`); each test has its own tenant and its own records in the sandbox's company."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged
from schemas.events.common import SyncObject
from schemas.keys import record_key
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration
Ready = Callable[[dict[str, Any] | None], bool]
WAIT_S = (
    240  # the stack's consumers read every tenant's traffic on the shared Kafka: other suites' imports too
)
BOTH_WAYS = {
    "create_in_pipedrive": True,
    "update_in_pipedrive": True,
    "create_in_abm": True,
    "update_in_abm": True,
}


class Admin:
    """A tenant's admin: connects Pipedrive and reads the store and the activity log through the APIs."""

    def __init__(self, stack: Stack, tenant: Tenant) -> None:
        self.stack, self.tenant = stack, tenant

    async def call(self, service: str, method: str, path: str, body: object = None) -> Any:
        return await self.stack.api(self.tenant, service, method, path, body)

    async def connect(self, **settings: Any) -> None:
        """Connect by API token and save `settings`; wait until the pusher applies them (its mapping API
        shows the directions), so that no signal is pushed under the settings before."""
        await self.call(
            "connector", "POST", "/v1/connection/api-token", {"api_token": self.stack.sandbox.api_token}
        )
        if settings:
            await self.call("connector", "PUT", "/v1/settings", settings)
            await eventually(
                lambda: self.call("pusher", "GET", "/v1/push/mapping?object=organization"),
                lambda m: m["directions"]["create_in_pipedrive"],
                within_s=WAIT_S,
                what="the pusher has the settings",
            )

    async def pusher_target(self, domain: str, accept: Any) -> dict[str, Any]:
        """What a push of `domain` would do, as the manual-push preview shows it, once `accept` holds (the
        pusher learns of Pipedrive's changes through its own consumer, at its own pace)."""
        selection = {"object": "organization", "records": [{"fields": {"website": domain, "name": domain}}]}
        found: dict[str, Any] = await eventually(
            lambda: self.call("pusher", "POST", "/v1/push/preview", selection),
            lambda preview: accept(preview["records"][0]),
            within_s=WAIT_S,
            what=f"the pusher's view of {domain}",
        )
        record: dict[str, Any] = found["records"][0]
        return record

    async def sync(self) -> dict[str, Any]:
        """Sync now, and wait for the run to finish."""
        run = await self.call("connector", "POST", "/v1/sync")
        return await eventually(
            lambda: self.call("connector", "GET", f"/v1/runs/{run['run_id']}"),
            lambda r: r["state"] == "finished",
            within_s=WAIT_S,
            what="the sync",
        )

    async def account(self, domain: str, ready: Ready = lambda a: a is not None) -> dict[str, Any]:
        """The account of `domain` in the ABM store, once `ready` holds for it."""

        async def find() -> dict[str, Any] | None:
            page = await self.call("mapper", "GET", f"/v1/accounts?q={domain}")
            found: dict[str, Any] | None = next((a for a in page["data"] if a["domain"] == domain), None)
            return found

        account = await eventually(find, ready, within_s=WAIT_S, what=f"the account {domain}")
        assert account is not None
        return account

    async def entries(self, kind: str, pipedrive_id: int) -> list[dict[str, Any]]:
        """The activity log's entries of `pipedrive_id` in the tenant's runs of `kind` and their apply
        runs."""
        return [e for e in await self.all_entries(kind) if e["pipedrive_id"] == pipedrive_id]

    async def all_entries(self, kind: str) -> list[dict[str, Any]]:
        """The activity log's entries in the tenant's runs of `kind` and their apply runs."""
        runs = await self.call("auditlog", "GET", f"/v1/runs?kind={kind}")
        run_ids = [r["run_id"] for r in runs["data"]]
        run_ids += [f"apply-{r}" for r in run_ids]
        found = []
        for run_id in run_ids:
            try:
                page = await self.call("auditlog", "GET", f"/v1/runs/{run_id}/entries")
            except AssertionError:  # an apply run not reported (yet)
                continue
            found += page["data"]
        return found


TWO_WAY_NAMES = {
    "directions": BOTH_WAYS,
    "fields": [
        {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "overwrite", "to_abm": "overwrite"},
        {"abm_field": "website", "pipedrive_field": "website", "to_pipedrive": "fill", "to_abm": "fill"},
    ],
}
"""Organizations synced both ways, names overwritten in either direction, websites filled."""

OWNERS_PUSHED = [
    {"abm_field": "name", "pipedrive_field": "name", "to_pipedrive": "fill"},
    {"abm_field": "website", "pipedrive_field": "website", "to_pipedrive": "fill"},
    {"abm_field": "owner", "pipedrive_field": "owner_id", "to_pipedrive": "overwrite"},
]
"""An organization's fields pushed with its owner, which overwrites Pipedrive's."""


async def _after_the_second_of(stack: Stack, org: int) -> None:
    """Wait until Pipedrive's clock is past the second of the organization's update_time."""
    version = datetime.fromisoformat(
        (await _pipedrive(stack, "GET", f"/api/v2/organizations/{org}"))["update_time"]
    )
    await asyncio.sleep(max(0.0, (version + timedelta(seconds=1) - datetime.now(UTC)).total_seconds()))


async def _pipedrive(stack: Stack, method: str, path: str, body: object = None) -> Any:
    """A person using Pipedrive: the sandbox's own API, with the company's API token (shared with the
    integration, so a call can meet the token's rate limit: it waits as Pipedrive's 429 says, as a client
    must)."""
    headers = {"x-api-token": stack.sandbox.api_token}
    async with aiohttp.ClientSession() as session:
        for _ in range(_RATE_LIMITED_TRIES):
            async with session.request(
                method, stack.sandbox.base_url + path, json=body, headers=headers
            ) as response:
                if response.status == 429:
                    wait = response.headers.get("retry-after") or response.headers.get("x-ratelimit-reset")
                    await asyncio.sleep(min(float(wait or 1), 10.0))
                    continue
                assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
                return (await response.json())["data"]
    raise AssertionError(f"{method} {path}: still rate limited after {_RATE_LIMITED_TRIES} tries")


_RATE_LIMITED_TRIES = 10


async def _signal(producer: AIOKafkaProducer, tenant: Tenant, payload: BaseModel, domain: str) -> None:
    """The ABM platform publishes a signal about `domain`."""
    key = record_key(tenant.tenant_id, SyncObject.ORGANIZATION, domain)
    event = build_event(
        payload, tenant=tenant.tenant_id, subject=key, source="/itest/abm-platform",
        id_parts=(uuid.uuid4().hex,), time=datetime.now(UTC),
    )  # fmt: skip
    await producer.send_and_wait(event_type_of(payload).topic.name, encode_event(event), key=key.encode())


async def _organizations(stack: Stack, *names: str, uid: str) -> list[int]:
    ids = []
    for name in names:
        org = await _pipedrive(
            stack, "POST", "/api/v2/organizations", {"name": name, "website": f"{name}-{uid}.io"}
        )
        ids.append(int(org["id"]))
    return ids


async def test_a_sync_marks_deletes_follows_merges_and_auto_push_recreates_neither(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}}, auto_push={"enabled": True})
    doomed, loser, survivor = await _organizations(stack, "doomed", "loser", "survivor", uid=uid)
    person = await _pipedrive(
        stack,
        "POST",
        "/api/v2/persons",
        {"name": "Pat", "emails": [{"value": f"pat@{uid}.io"}], "org_id": loser},
    )
    await admin.sync()
    await admin.account(f"loser-{uid}.io")

    await _pipedrive(stack, "DELETE", f"/api/v2/organizations/{doomed}")
    await _pipedrive(stack, "PUT", f"/v1/organizations/{loser}/merge", {"merge_with_id": survivor})
    run = await admin.sync()

    deleted = await admin.account(f"doomed-{uid}.io", lambda a: a is not None and a["deleted_in_crm"])
    merged = await admin.account(
        f"loser-{uid}.io", lambda a: a is not None and a["pipedrive"]["id"] == survivor
    )
    assert run["status"] == "Success"
    assert (deleted["pipedrive"]["id"], deleted["pipedrive"]["deleted"]) == (doomed, True)
    assert merged["pipedrive"]["merged_from_id"] == loser
    assert merged["pipedrive"]["url"] == f"{stack.sandbox.base_url}/organization/{survivor}"
    assert (merged["domain"], merged["website"]) == (f"loser-{uid}.io", f"loser-{uid}.io")
    contacts = await admin.call("mapper", "GET", f"/v1/contacts?q=pat@{uid}.io")
    assert [c["fields"]["organization"] for c in contacts["data"]] == [survivor]
    assert person["org_id"] == loser
    await admin.pusher_target(f"doomed-{uid}.io", lambda r: r["pipedrive_id"] is None)
    await admin.pusher_target(f"loser-{uid}.io", lambda r: r["pipedrive_id"] == survivor)

    for name in ("doomed", "loser"):
        await _signal(abm_platform, admin.tenant, CompanyRevealed(
            domain=f"{name}-{uid}.io", name=name.title(), revealed_at=datetime.now(UTC)
        ), f"{name}-{uid}.io")  # fmt: skip
    skipped = await eventually(
        lambda: admin.entries("auto_push", doomed), bool, within_s=WAIT_S, what="the reveal's result"
    )
    followed = await eventually(
        lambda: admin.entries("auto_push", survivor), bool, within_s=WAIT_S, what="the survivor's result"
    )
    assert skipped[0]["outcome"] == "skipped" and skipped[0]["message"].startswith("Deleted in CRM")
    assert followed[0]["outcome"] in ("updated", "unchanged")
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    websites = [o["website"] for o in live]
    assert f"doomed-{uid}.io" not in websites and f"loser-{uid}.io" not in websites


async def test_a_write_that_meets_a_404_marks_the_record_deleted_at_once(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}}, auto_push={"enabled": True})
    [gone] = await _organizations(stack, "unnoticed", uid=uid)
    await admin.sync()
    domain = f"unnoticed-{uid}.io"
    await admin.account(domain)
    await admin.pusher_target(domain, lambda r: r["pipedrive_id"] == gone)
    await _pipedrive(stack, "DELETE", f"/api/v2/organizations/{gone}")  # no sync after this

    await _signal(
        abm_platform,
        admin.tenant,
        ScoreChanged(domain=domain, score=80, changed_at=datetime.now(UTC)),
        domain,
    )

    marked = await admin.account(domain, lambda a: a is not None and a["deleted_in_crm"])
    [entry] = await eventually(
        lambda: admin.entries("auto_push", gone), bool, within_s=WAIT_S, what="the push's entry"
    )
    assert marked["pipedrive"]["deleted"] is True
    assert entry["outcome"] == "skipped" and "404" in entry["message"]


async def test_webhook_changes_are_a_run_with_entries_in_the_activity_log(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect()
    [org] = await _organizations(stack, "hooked", uid=uid)
    await admin.sync()
    await admin.call("connector", "PUT", "/v1/webhooks", {"enabled": True})

    await _pipedrive(stack, "PATCH", f"/api/v2/organizations/{org}", {"name": "Hooked Renamed"})

    runs = await eventually(
        lambda: admin.call("auditlog", "GET", "/v1/runs?kind=webhook"),
        lambda page: bool(page["data"]),
        within_s=WAIT_S,
        what="the webhook changes run",
    )
    run = runs["data"][0]
    assert run["run_id"].startswith("webhooks-") and run["service"] == "connector"
    entries = await eventually(
        lambda: admin.entries("webhook", org), bool, within_s=WAIT_S, what="the change's entry"
    )
    assert entries[0]["outcome"] == "updated"
    renamed = await admin.account(
        f"hooked-{uid}.io", lambda a: a is not None and a["fields"]["name"] == "Hooked Renamed"
    )
    assert renamed["pipedrive"]["id"] == org


async def test_a_manual_push_can_name_records_by_abm_id(stack: Stack, abm_platform: AIOKafkaProducer) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}})
    domain = f"named-{uid}.io"
    await _signal(abm_platform, admin.tenant, CompanyRevealed(
        domain=domain, name=f"Named {uid}", revealed_at=datetime.now(UTC)
    ), domain)  # fmt: skip
    account = await admin.account(domain)

    pushed = await admin.call(
        "pusher", "POST", "/v1/push", {"object": "organization", "records": [{"abm_id": account["abm_id"]}]}
    )

    async def push_run() -> dict[str, Any] | None:
        runs = await admin.call("auditlog", "GET", "/v1/runs?kind=push")
        return next((r for r in runs["data"] if r["run_id"] == pushed["run_id"]), None)

    run = await eventually(
        push_run,
        lambda r: r is not None and r["finished_at"] is not None,
        within_s=WAIT_S,
        what="the push run",
    )
    assert run is not None and run["created"] == 1
    live = await _pipedrive(stack, "GET", "/api/v2/organizations?limit=500")
    assert [o["name"] for o in live if o["website"] == domain] == [f"Named {uid}"]


async def test_a_name_auto_push_wrote_is_in_the_abm_store_before_its_echo_which_changes_nothing(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": TWO_WAY_NAMES}, auto_push={"enabled": True})
    [org] = await _organizations(stack, "renamed", uid=uid)
    await admin.sync()
    domain = f"renamed-{uid}.io"
    await admin.account(domain)
    await admin.pusher_target(domain, lambda r: r["pipedrive_id"] == org)
    # Pipedrive's update_time is whole seconds: a write in the same second as the version the store
    # holds is left to its echo (it may hold someone's edit of that second too), so the push comes in a
    # later second, as one does outside a test that creates, syncs and pushes within a second.
    await _after_the_second_of(stack, org)

    await _signal(abm_platform, admin.tenant, CompanyRevealed(
        domain=domain, name=f"Renamed {uid}", revealed_at=datetime.now(UTC)
    ), domain)  # fmt: skip

    # No sync and no webhook: only the push's result can tell the mapper what Pipedrive holds now.
    await admin.account(domain, lambda a: a is not None and a["fields"]["name"] == f"Renamed {uid}")
    assert (await _pipedrive(stack, "GET", f"/api/v2/organizations/{org}"))["name"] == f"Renamed {uid}"
    run = await admin.sync()  # brings the write's echo

    async def echo_entries() -> list[dict[str, Any]]:
        try:
            page = await admin.call("auditlog", "GET", f"/v1/runs/apply-{run['run_id']}/entries")
        except AssertionError:  # the apply run not reported yet
            return []
        return [e for e in page["data"] if e["pipedrive_id"] == org]

    entries = await eventually(echo_entries, bool, within_s=WAIT_S, what="the echo's entry")
    assert [e["outcome"] for e in entries] == ["unchanged"]


async def test_a_repeated_reveal_leaves_a_reps_edit_of_a_two_way_name_in_place(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": TWO_WAY_NAMES}, auto_push={"enabled": True})
    domain, revealed = f"visited-{uid}.io", f"Visited {uid}"

    async def reveal() -> None:
        await _signal(abm_platform, admin.tenant, CompanyRevealed(
            domain=domain, name=revealed, revealed_at=datetime.now(UTC)
        ), domain)  # fmt: skip

    async def results() -> list[dict[str, Any]]:
        return [e for e in await admin.all_entries("auto_push") if e["match_key"] == domain]

    await reveal()
    [created] = await eventually(results, bool, within_s=WAIT_S, what="the first reveal's result")
    assert created["outcome"] == "created"
    org = created["pipedrive_id"]
    await _after_the_second_of(stack, org)
    edited = f"Visited {uid} (HQ)"
    await _pipedrive(stack, "PATCH", f"/api/v2/organizations/{org}", {"name": edited})
    await admin.sync()  # the pusher learns of the rep's edit
    await admin.pusher_target(domain, lambda r: r["changes"].get("name", {}).get("from") == edited)
    await _after_the_second_of(stack, org)

    await reveal()  # the same company visits again: its name did not change in the ABM platform

    results_now = await eventually(
        results, lambda found: len(found) == 2, within_s=WAIT_S, what="the second reveal's result"
    )
    again = next(e for e in results_now if e != created)
    assert (again["outcome"], again["pipedrive_id"]) == ("unchanged", org)
    assert (await _pipedrive(stack, "GET", f"/api/v2/organizations/{org}"))["name"] == edited
