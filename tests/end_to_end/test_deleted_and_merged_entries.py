"""The activity log names the account a deletion or a merge in Pipedrive reached by its domain, as it names
every other record it applied, so a RevOps admin reading a run (or its CSV) sees which account was marked
"Deleted in CRM" or followed a merge. Seen from outside only: the sandbox's API and the services' HTTP
APIs (the package's stack, `conftest.py`; a tenant of the test's own)."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.stack import Stack
from tests.end_to_end.test_deletes_merges_and_pushes import WAIT_S, Admin, _organizations, _pipedrive
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def test_entries_of_a_deleted_and_a_merged_organization_name_their_accounts(stack: Stack) -> None:
    uid = uuid.uuid4().hex[:6]
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect()
    gone, loser, survivor = await _organizations(stack, "gone", "loser", "survivor", uid=uid)
    # Without webhooks a merge is told from a delete by the persons Pipedrive moves to the survivor.
    person = {"name": "Pat", "emails": [{"value": f"pat@{uid}.io"}], "org_id": loser}
    await _pipedrive(stack, "POST", "/api/v2/persons", person)
    await admin.sync()
    await _pipedrive(stack, "DELETE", f"/api/v2/organizations/{gone}")
    await _pipedrive(stack, "PUT", f"/v1/organizations/{loser}/merge", {"merge_with_id": survivor})

    run = await admin.sync()

    async def entries() -> dict[int, tuple[str, str]]:
        try:
            page = await admin.call("auditlog", "GET", f"/v1/runs/apply-{run['run_id']}/entries")
        except AssertionError:  # the apply run not reported yet
            return {}
        return {e["pipedrive_id"]: (e["match_key"], e["message"]) for e in page["data"]}

    named = await eventually(
        entries, lambda found: {gone, loser} <= set(found), within_s=WAIT_S, what="the entries"
    )
    assert named[gone] == (f"gone-{uid}.io", "Deleted in CRM")
    assert named[loser] == (f"loser-{uid}.io", "Merged in CRM")
