"""The client against the sandbox: pagination, token costs, the burst limiter, 429s, revoked tokens."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import pytest

from pipedrive_client import (
    BudgetExhausted,
    BudgetPolicy,
    InvalidApiKey,
    PipedriveClientFactory,
    PipedriveUnavailable,
)
from pipedrive_client.endpoints import Endpoint
from pipedrive_client.http import CHARGED_AHEAD_FOR_S
from pipedrive_client.pagination import Page, read_ahead
from pipedrive_sandbox import SandboxConfig
from tests.pipedrive_client.conftest import FactoryMaker
from tests.pipedrive_client.sandbox_server import RecordingSandbox


def _ledger(sandbox: RecordingSandbox) -> list[tuple[float, int, int, str]]:
    """(time, status, tokens, path) of every API call the sandbox answered."""
    return [(e.time, e.status, e.tokens, e.path) for e in sandbox.handle.state.ledger.entries]


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=1234)])
async def test_pagination_reads_every_organization_in_pages_of_500_for_30_tokens(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)

    pages = [page async for page in client.organizations.iterate()]

    ids = [org.id for page in pages for org in page.items]
    assert [len(page.items) for page in pages] == [500, 500, 234]
    assert len(set(ids)) == 1234
    ledger = _ledger(sandbox)
    assert [(status, tokens) for _, status, tokens, _ in ledger] == [(200, 10)] * 3
    assert await factory.budget.spent_today(api_token_tenant) == 30
    assert all(r.query_string.count("limit=500") == 1 for r in sandbox.api_requests())


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(organizations=1234)])
async def test_pages_charged_ahead_are_charged_once_each_and_a_charge_no_page_took_is_given_back(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    # Each page is charged while the one before it is read (`ChargingAhead`): the charge made ahead of
    # the last page, and of a page a closed reading never asked, is refunded on leaving.
    organizations = factory.for_tenant(api_token_tenant).organizations
    charged_ahead = []

    async def read(pages_wanted: int) -> list[int]:
        async with organizations.charging_ahead() as ahead:

            def start_next() -> None:
                charged_ahead.append(ahead._next is None)
                ahead.start_next()

            async def fetch(cursor: str | None) -> Page[Any]:
                return await organizations.list_items(None, cursor, 500, ahead)

            sizes: list[int] = []
            async with aclosing(read_ahead(fetch, depth=2, ready_for_next=start_next)) as pages:
                async for page in pages:
                    sizes.append(len(page.items))
                    if len(sizes) == pages_wanted:
                        break
            return sizes

    assert await read(pages_wanted=3) == [500, 500, 234]
    assert [(status, tokens) for _, status, tokens, _ in _ledger(sandbox)] == [(200, 10)] * 3
    assert await factory.budget.spent_today(api_token_tenant) == 30
    assert charged_ahead == [True] * 3  # the second and third pages', and one after the last

    assert await read(pages_wanted=1) == [500]
    sent = len(_ledger(sandbox))
    assert 4 <= sent <= 6
    assert await factory.budget.spent_today(api_token_tenant) == 10 * sent


async def test_a_call_charged_ahead_too_long_before_it_is_sent_is_charged_anew(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    # The charge stamped the burst window when it was made: a call that waited longer than the window's
    # margin allows gives it back and is charged (and stamped) again.
    client = factory.for_tenant(api_token_tenant)
    endpoint = Endpoint("v2", "GET", "/organizations/{id}")
    charged = await client.http.charge_ahead(endpoint)
    stale = replace(charged, charged_at=charged.charged_at - CHARGED_AHEAD_FOR_S - 0.05)

    await client.http.call(endpoint, {"id": 1}, charged=stale)
    await client.http.call(endpoint, {"id": 1}, charged=await client.http.charge_ahead(endpoint))

    assert [status for _, status, _, _ in _ledger(sandbox)] == [200, 200]
    assert await factory.budget.spent_today(api_token_tenant) == client.tokens_spent == 2
    stamps = await factory.budget._pool.fetchval(
        f"SELECT window_times FROM {factory.budget._table} WHERE tenant_id = $1", api_token_tenant
    )
    assert len(stamps) == 3  # the stale charge's, its call's own, the fresh one's


async def test_the_21st_request_in_two_seconds_waits_instead_of_meeting_a_429(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    client = factory.for_tenant(api_token_tenant)

    await asyncio.gather(*(client.organizations.get(1) for _ in range(21)))

    ledger = _ledger(sandbox)
    assert len(ledger) == 21
    assert {status for _, status, _, _ in ledger} == {200}
    times = sorted(t for t, _, _, _ in ledger)
    assert times[20] - times[0] >= 2.0
    assert all(times[i + 20] - times[i] > 2.0 for i in range(len(times) - 20))


async def test_a_429_closes_the_window_until_the_reset_and_the_call_then_succeeds(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    sandbox.handle.state.faults.storm_requests_left = 1
    client = factory.for_tenant(api_token_tenant)

    org = await client.organizations.get(1)

    assert org.id == 1
    (first, status_1, _, _), (second, status_2, _, _) = _ledger(sandbox)
    assert (status_1, status_2) == (429, 200)
    assert second - first >= 2.0  # the storm answer says x-ratelimit-reset: 2


async def test_daily_budget_429_pauses_every_caller_until_retry_after(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    limiter = sandbox.handle.state.limiter
    limiter.spent_today = limiter.budget - 5
    client = factory.for_tenant(api_token_tenant)

    with pytest.raises(BudgetExhausted) as exhausted:
        await client.organizations.list_page()
    with pytest.raises(BudgetExhausted):
        await client.organizations.get(1)

    assert len(_ledger(sandbox)) == 1  # the second call was never sent
    assert exhausted.value.resume_at > time.time() + 1


async def test_the_daily_share_is_never_overspent(
    make_factory: FactoryMaker, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    # A share of 12 tokens a day on Lite with one seat: one list page (10) fits, a second does not.
    client = make_factory(budget_policy=BudgetPolicy(daily_share=12 / 30_000)).for_tenant(api_token_tenant)

    await client.organizations.list_page(limit=5)
    with pytest.raises(BudgetExhausted) as exhausted:
        await client.organizations.list_page(limit=5)

    assert len(_ledger(sandbox)) == 1
    assert exhausted.value.resume_at % 86_400 == 0


async def test_a_revoked_api_token_is_an_invalid_api_key(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    sandbox.handle.state.revoked_api_tokens.add(sandbox.handle.api_token)
    client = factory.for_tenant(api_token_tenant)

    with pytest.raises(InvalidApiKey, match=r"^Invalid API key$"):
        await client.organizations.get(1)
    assert [status for _, status, _, _ in _ledger(sandbox)] == [401]


async def test_a_call_whose_credentials_are_gone_is_not_charged(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    # After a call with an API token, the next call's credentials are read while it is charged: a read
    # that fails gives the charge back.
    client = factory.for_tenant(api_token_tenant)
    await client.organizations.get(1)
    stored = await factory.credentials.load(api_token_tenant)
    assert await factory.credentials.mark_refused(api_token_tenant, stored.version, "revoked")

    with pytest.raises(InvalidApiKey):
        await client.organizations.get(1)
    await factory.credentials.delete(api_token_tenant)
    with pytest.raises(InvalidApiKey):
        await client.organizations.get(1)

    assert [status for _, status, _, _ in _ledger(sandbox)] == [200]
    assert await factory.budget.spent_today(api_token_tenant) == client.tokens_spent == 1


async def test_server_errors_are_retried_a_bounded_number_of_times(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    sandbox.handle.state.faults.error_share = 1.0
    client = factory.for_tenant(api_token_tenant)

    with pytest.raises(PipedriveUnavailable):
        await client.organizations.get(1)
    assert [status for _, status, _, _ in _ledger(sandbox)] == [503] * 4

    sandbox.handle.state.faults.error_share = 0.5
    assert (await client.organizations.get(1)).id == 1
