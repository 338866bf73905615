"""The activity log and the audiences: a sync started from the card shows as runs whose counts go live
until Success, the records of its apply run (linked from the sync's page) and their CSV export, the
audiences it filled; a revoked token shows as an Error run that says "Invalid API key" and what to do."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.topics import SYNC_RUNS
from tests.browser.actions import hurried_refreshes, sign_in
from tests.browser.screens import capture
from tests.browser.stack import Stack, Tenant
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def _connect(stack: Stack, tenant: Tenant, token: str) -> None:
    await stack.api(tenant, "connector", "POST", "/v1/connection/api-token", {"api_token": token})


async def test_a_sync_shows_in_the_activity_log_and_fills_the_audiences(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    await _connect(stack, tenant, stack.sandbox.api_token)
    await page.clock.install()
    await sign_in(page, tenant.admin)
    await page.get_by_role("button", name="Sync now").click()
    await expect(page.get_by_role("status")).to_contain_text("A sync started")

    await page.get_by_role("link", name="Activity log").click()
    # The first page refreshes itself: the mapper's apply run appears and counts up until it ends.
    apply_row = page.locator("tr[data-status]", has_text="Apply")
    sync_row = page.locator("tr[data-status]", has_text="Sync")
    async with hurried_refreshes(page, 5):
        await expect(apply_row).to_have_attribute("data-status", re.compile("^(Success|Warning)$"))
        await expect(sync_row).to_have_attribute("data-status", re.compile("^(Success|Warning)$"))
    await capture(page, "activity-log")
    [run] = (await stack.api(tenant, "auditlog", "GET", "/v1/runs?kind=apply"))["data"]
    for column in ("created", "updated", "unchanged", "skipped", "failed"):
        await expect(apply_row.locator(f"td[data-label={column.capitalize()}]")).to_have_text(
            str(run[column])
        )

    # A sync and its apply run are one piece of work: the sync's page links to the run holding its records.
    await sync_row.get_by_role("link").click()
    await expect(page.locator("#run-summary").get_by_role("link", name=run["run_id"])).to_be_visible()
    # What started each run, in words (the apply run once said "connector_run").
    await expect(page.locator("#run-summary")).to_contain_text(
        "Connector · Pipedrive → ABM · started by hand"
    )
    # The sync's own list is empty (it read every record): it says where its records are.
    no_records = page.locator("p.card", has_text="listed where they were applied")
    await no_records.get_by_role("link", name=run["run_id"]).click()
    await expect(page.get_by_role("heading", name="Records")).to_be_visible()
    await expect(page.locator("#run-summary")).to_contain_text(
        "Mapper · Pipedrive → ABM · applying a sync or import"
    )
    entries = await _all_entries(stack, tenant, run["run_id"])
    assert entries, "the sync's records are listed"
    await expect(page.locator("tbody tr")).to_have_count(min(len(entries), 100))
    await capture(page, "activity-run")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO((await (await download.value).path()).read_text())))
    assert [(r["match_key"], r["outcome"]) for r in rows] == [(e["match_key"], e["outcome"]) for e in entries]

    await page.get_by_role("link", name="Audiences").click()
    accounts = (await stack.api(tenant, "mapper", "GET", "/v1/accounts?limit=500"))["data"]
    await expect(page.locator("#audience-results tbody tr")).to_have_count(len(accounts))
    domain = accounts[0]["match_key"]
    await page.get_by_label("Search").fill(domain)  # the results follow the typing
    found = (await stack.api(tenant, "mapper", "GET", f"/v1/accounts?q={domain}"))["data"]
    await expect(page.locator("#audience-results tbody tr")).to_have_count(len(found))
    await expect(page.locator("#audience-results tbody tr").first).to_contain_text(domain)
    await capture(page, "audiences-accounts")
    await page.get_by_role("link", name="Contacts").click()
    await expect(page.locator("#audience-results tbody tr")).to_have_count(50)  # a page
    # Deal values read as amounts ("26,600 EUR"; they once read "26600.0 EUR").
    await page.get_by_role("link", name="Opportunities").click()
    values = page.locator("#audience-results td[data-label=Value]")
    await expect(values.first).to_have_text(re.compile(r"^(\d{1,3}(,\d{3})*(\.\d\d)? [A-Z]{3}|—)$"))
    for value in await values.all_inner_texts():
        assert re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d\d)? [A-Z]{3}|—", value.strip()), value


async def _all_entries(stack: Stack, tenant: Tenant, run_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await stack.api(tenant, "auditlog", "GET", f"/v1/runs/{run_id}/entries?limit=1000{cursor}")
        entries += page["data"]
        if not page["next_cursor"]:
            return entries
        cursor = f"&cursor={page['next_cursor']}"


async def test_a_revoked_token_shows_the_next_run_as_invalid_api_key_with_what_to_do(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    token = next(
        u.api_token
        for u in stack.sandbox.state.account.users.values()
        if u.api_token != stack.sandbox.api_token
    )
    await _connect(stack, tenant, token)
    stack.sandbox.state.revoked_api_tokens.add(token)
    await page.clock.install()
    await sign_in(page, tenant.admin)

    await page.get_by_role("button", name="Sync now").click()
    await page.get_by_role("link", name="Activity log").click()
    await page.get_by_label("Status").select_option("Error")
    await page.get_by_role("button", name="Filter").click()

    error_row = page.locator("tr", has_text="Sync")
    async with hurried_refreshes(page, 5):  # the filtered first page refreshes itself too
        await expect(error_row.get_by_text("Error")).to_be_visible()
    await expect(error_row).to_contain_text("Invalid API key")
    await error_row.get_by_role("link").click()
    await expect(page.get_by_role("region", name="Invalid API key")).to_contain_text("Reconnect Pipedrive")
    await capture(page, "activity-run-error")


async def _run_ended(stack: Stack, tenant: Tenant, run_id: str, started: datetime) -> None:
    """A connector sync run of the tenant that started at `started` and ended a second later."""
    run = RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(SyncObject.ORGANIZATION,), started_at=started, finished_at=started + timedelta(seconds=1),
        counts=RunCounts(), status=RunStatus.SUCCESS,
    )  # fmt: skip
    key = f"{tenant.tenant_id}:{run_id}"
    event = build_event(
        run, tenant=tenant.tenant_id, subject=key, source="/psync/connector", id_parts=(run_id,), time=started
    )
    await stack.producer.send_and_wait(SYNC_RUNS.name, encode_event(event), key=key.encode())


async def test_a_date_range_before_the_newest_page_of_runs_finds_the_older_runs(
    page: Page, tenant: Tenant, stack: Stack
) -> None:
    """The console once filtered the dates of the runs it read (the activity log's API had no date
    filter): with more runs since the 'To' date than one page holds, the first page said 'No runs match'
    for a range that has runs. The API now filters by start time. A From date after the To date is
    refused in words."""
    now = datetime.now(UTC)
    old_day = now - timedelta(days=3)
    await _run_ended(stack, tenant, "sync-three-days-ago", old_day)
    for n in range(60):
        await _run_ended(stack, tenant, f"sync-today-{n:02}", now - timedelta(minutes=n))
    await eventually(
        lambda: stack.api(tenant, "auditlog", "GET", "/v1/runs?limit=500"),
        lambda runs: len(runs["data"]) == 61,
        within_s=120,
        what="the auditlog has the 61 runs",
    )
    await sign_in(page, tenant.admin)
    await page.goto("/activity")
    await page.get_by_label("To").fill(old_day.date().isoformat())
    await page.get_by_role("button", name="Filter").click()

    rows = page.locator("tr[data-status]")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Sync")
    await expect(rows.get_by_role("link")).to_have_attribute("href", "/activity/runs/sync-three-days-ago")

    await page.get_by_label("From").fill(now.date().isoformat())
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("alert")).to_contain_text("The To date is before the From date")
    await expect(rows).to_have_count(0)
    await expect(page.get_by_label("From")).to_have_value(now.date().isoformat())  # the filter is kept
