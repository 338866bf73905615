"""The client against the sandbox: pagination, token costs, the burst limiter, 429s, revoked tokens."""

from __future__ import annotations

import asyncio
import time

import pytest

from pipedrive_client import (
    BudgetExhausted,
    BudgetPolicy,
    InvalidApiKey,
    PipedriveClientFactory,
    PipedriveUnavailable,
)
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
