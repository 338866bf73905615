"""NUL characters in Pipedrive's values (PostgreSQL's text and jsonb cannot hold one, and nobody sees
one): a record whose name or mapped custom field holds one is synced without it, its entry in the
activity log too, and the records around it are not held up. Seen from outside only: the sandbox's API,
the services' HTTP APIs (the package's stack, `conftest.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import pytest

from tests.browser.stack import Stack
from tests.end_to_end.test_deletes_merges_and_pushes import BOTH_WAYS, WAIT_S, Admin, _pipedrive
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_records_with_nul_characters_are_imported_without_them(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    label = f"Industry {uid}"
    await _pipedrive(
        stack, "POST", "/api/v2/organizationFields", {"field_name": label, "field_type": "varchar"}
    )
    admin = Admin(stack, await stack.new_tenant())
    fields = [
        {"abm_field": "name", "pipedrive_field": "name"},
        {"abm_field": "website", "pipedrive_field": "website"},
        {"abm_field": "industry", "pipedrive_field": label, "custom": True},
    ]
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS, "fields": fields}})
    settings = await admin.call("connector", "GET", "/v1/settings")
    [code] = [f["field_code"] for f in settings["objects"]["organization"]["fields"] if f["custom"]]
    organizations: dict[str, dict[str, Any]] = {
        f"named-{uid}.io": {"name": f"Named\u0000 {uid}"},
        f"custom-{uid}.io": {"name": f"Custom {uid}", "custom_fields": {code: "Retail\u0000"}},
        f"plain-{uid}.io": {"name": f"Plain {uid}", "custom_fields": {code: "Retail"}},
    }
    ids = {}
    for domain, values in organizations.items():
        created = await _pipedrive(stack, "POST", "/api/v2/organizations", {**values, "website": domain})
        ids[domain] = int(created["id"])

    run = await admin.sync()
    accounts = {domain: await admin.account(domain) for domain in organizations}
    entries = await eventually(
        lambda: _entries_of(admin, ids.values()), lambda found: len(found) >= 3, within_s=WAIT_S,
        what="the records' entries",
    )  # fmt: skip

    assert run["status"] == "Success"
    assert {d: (a["fields"]["name"], a["fields"].get("industry")) for d, a in accounts.items()} == {
        f"named-{uid}.io": (f"Named {uid}", None),
        f"custom-{uid}.io": (f"Custom {uid}", "Retail"),
        f"plain-{uid}.io": (f"Plain {uid}", "Retail"),
    }
    assert {d: a["pipedrive"]["id"] for d, a in accounts.items()} == ids
    assert sorted((e["name"], e["outcome"]) for e in entries) == [
        (f"Custom {uid}", "created"), (f"Named {uid}", "created"), (f"Plain {uid}", "created")
    ]  # fmt: skip
    for domain, pipedrive_id in ids.items():  # the pusher mirrors each, under its domain
        await admin.pusher_target(domain, lambda r, pid=pipedrive_id: r["pipedrive_id"] == pid)


async def test_a_name_changed_to_hold_a_nul_arrives_by_webhook_without_it(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    domain = f"hooked-nul-{uid}.io"
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect()
    created = await _pipedrive(stack, "POST", "/api/v2/organizations", {"name": "Hooked", "website": domain})
    await admin.sync()
    await admin.account(domain)
    await admin.call("connector", "PUT", "/v1/webhooks", {"enabled": True})

    await _pipedrive(
        stack, "PATCH", f"/api/v2/organizations/{created['id']}", {"name": f"Hooked\u0000 {uid}"}
    )

    renamed = await admin.account(domain, lambda a: a is not None and a["fields"]["name"] != "Hooked")
    assert renamed["fields"]["name"] == f"Hooked {uid}"


async def _entries_of(admin: Admin, pipedrive_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The activity log's sync entries of these records."""
    wanted = set(pipedrive_ids)
    return [e for e in await admin.all_entries("sync") if e["pipedrive_id"] in wanted]
