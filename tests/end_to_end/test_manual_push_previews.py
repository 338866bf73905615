"""What a RevOps admin meets in a manual push: the preview shows the changes the push makes (an owner
matched by email included, no "before" values for a record created anew), and a push of an account that
Pipedrive already holds as it is costs nothing. Seen from outside only: the sandbox's API, the services'
HTTP APIs and the activity log (the package's stack, `conftest.py`; a tenant of each test's own)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.stack import Stack
from tests.end_to_end.test_deletes_merges_and_pushes import (
    BOTH_WAYS,
    OWNERS_PUSHED,
    WAIT_S,
    Admin,
    _organizations,
    _pipedrive,
)
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def _push_run(admin: Admin, body: dict[str, Any]) -> dict[str, Any]:
    """Push by hand and wait until the activity log has the whole run."""
    pushed = await admin.call("pusher", "POST", "/v1/push", body)

    async def run() -> dict[str, Any] | None:
        runs = await admin.call("auditlog", "GET", "/v1/runs?kind=push")
        return next((r for r in runs["data"] if r["run_id"] == pushed["run_id"]), None)

    found = await eventually(
        run,
        lambda r: r is not None and r["finished_at"] is not None and not r["results_pending"],
        within_s=WAIT_S,
        what="the push run",
    )
    assert found is not None
    return found


async def test_a_manual_push_of_an_imported_account_pipedrive_holds_as_is_spends_no_tokens(
    stack: Stack,
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}})  # owner mapped (Fill)
    [org] = await _organizations(stack, "kept", uid=uid)
    await admin.sync()
    account = await admin.account(f"kept-{uid}.io")
    await admin.pusher_target(f"kept-{uid}.io", lambda r: r["pipedrive_id"] == org)

    run = await _push_run(admin, {"object": "organization", "records": [{"abm_id": account["abm_id"]}]})

    assert isinstance(account["fields"]["owner"], int)  # the owner as Pipedrive holds it: a user id
    assert (run["unchanged"], run["updated"], run["created"]) == (1, 0, 0)
    assert run["tokens_spent"] == 0


async def test_the_preview_shows_the_owner_a_push_gives_the_organization(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS, "fields": OWNERS_PUSHED}})
    [org] = await _organizations(stack, "owned", uid=uid)
    domain = f"owned-{uid}.io"
    owner = (await _pipedrive(stack, "GET", f"/api/v2/organizations/{org}"))["owner_id"]
    other = next(u for u in await _pipedrive(stack, "GET", "/v1/users") if u["id"] != owner)
    await admin.sync()
    await admin.pusher_target(domain, lambda r: r["pipedrive_id"] == org)
    selection = {
        "object": "organization",
        "records": [{"fields": {"website": domain, "name": "owned", "owner": other["email"].upper()}}],
    }

    preview = await admin.call("pusher", "POST", "/v1/push/preview", selection)
    run = await _push_run(admin, selection)

    [record] = preview["records"]
    assert (record["action"], record["pipedrive_id"]) == ("update", org)
    assert record["changes"] == {"owner": {"from": owner, "to": other["email"].upper()}}
    assert run["updated"] == 1
    assert (await _pipedrive(stack, "GET", f"/api/v2/organizations/{org}"))["owner_id"] == other["id"]


async def test_the_preview_of_re_creating_an_organization_deleted_in_pipedrive_has_no_before(
    stack: Stack,
) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}})
    [org] = await _organizations(stack, "recreated", uid=uid)
    domain = f"recreated-{uid}.io"
    await admin.sync()
    await _pipedrive(stack, "DELETE", f"/api/v2/organizations/{org}")
    await admin.sync()
    account = await admin.account(domain, lambda a: a is not None and a["deleted_in_crm"])

    preview = await admin.call(
        "pusher",
        "POST",
        "/v1/push/preview",
        {"object": "organization", "records": [{"abm_id": account["abm_id"]}]},
    )

    [record] = preview["records"]
    assert (record["action"], record["pipedrive_id"]) == ("create", None)
    assert record["changes"]["website"] == {"from": None, "to": domain}
    assert {change["from"] for change in record["changes"].values()} == {None}
