"""The budget shared by replicas: burst windows, daily share, closed windows (a fake clock, real Postgres)."""

from __future__ import annotations

import asyncio
import secrets
from typing import cast

import asyncpg
import pytest

from pipedrive_client import Budget, BudgetExhausted, BudgetPolicy, Plan
from pipedrive_client.budget import ClosedWindow, ExhaustedBudget, closed_window_from
from tests.pipedrive_client.fake_clock import FakeClock


def _replicas(pool: asyncpg.Pool, schema: str, clock: FakeClock, share: float = 0.5) -> tuple[Budget, Budget]:
    policy = BudgetPolicy(daily_share=share)
    return Budget(pool, schema, policy, clock), Budget(pool, schema, policy, clock)


async def test_the_burst_window_is_shared_by_replicas_and_the_21st_call_waits(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = FakeClock()
    first, second = _replicas(pg_pool, schema, clock)

    for replica in (first, second) * 10:
        await replica.spend(tenant, 1, is_oauth=False, is_search=False)
    assert clock.slept == []
    await second.spend(tenant, 1, is_oauth=False, is_search=False)

    assert sum(clock.slept) == pytest.approx(2.25)


async def test_oauth_tokens_and_higher_plans_get_wider_bursts_and_search_its_own_limit(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = FakeClock()
    budget, _ = _replicas(pg_pool, schema, clock)
    await budget.set_plan(tenant, Plan.GROWTH, seats=2)

    for _ in range(160):
        await budget.spend(tenant, 1, is_oauth=True, is_search=False)
    assert clock.slept == []
    for _ in range(11):
        await budget.spend(tenant, 20, is_oauth=True, is_search=True)
    assert len(clock.slept) >= 1


async def test_a_call_that_would_overspend_the_daily_share_raises_budget_exhausted(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = FakeClock(start=86_400 * 20_000 + 3_600)
    budget, other = _replicas(pg_pool, schema, clock, share=0.001)  # 30 tokens on Lite with one seat

    await budget.spend(tenant, 10, is_oauth=False, is_search=False)
    await other.spend(tenant, 20, is_oauth=False, is_search=False)
    with pytest.raises(BudgetExhausted) as exhausted:
        await budget.spend(tenant, 1, is_oauth=False, is_search=False)

    assert exhausted.value.resume_at == 86_400 * 20_001
    assert await budget.spent_today(tenant) == 30
    clock.time = exhausted.value.resume_at
    await budget.spend(tenant, 10, is_oauth=False, is_search=False)
    assert await budget.spent_today(tenant) == 10


async def test_concurrent_calls_of_many_replicas_never_overspend_the_daily_share(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = FakeClock(start=86_400 * 20_000 + 3_600)
    policy = BudgetPolicy(daily_share=0.001)  # 30 tokens on Lite with one seat
    replicas = [Budget(pg_pool, schema, policy, clock) for _ in range(8)]
    await replicas[0].spend(tenant, 1, is_oauth=False, is_search=False)  # each replica has seen the row
    for replica in replicas[1:]:
        await replica.spend(tenant, 0, is_oauth=False, is_search=False)

    outcomes = await asyncio.gather(
        *(r.spend(tenant, 10, is_oauth=False, is_search=False) for r in replicas), return_exceptions=True
    )

    charged = [o for o in outcomes if o is None]
    assert len(charged) == 2, outcomes  # 1 + 2 x 10 of 30: a third call of 10 would overspend
    assert all(isinstance(o, BudgetExhausted) for o in outcomes if o is not None)
    assert await replicas[0].spent_today(tenant) == 21


class _NoWaiting(FakeClock):
    """A clock whose waits are refused: a call that would have to wait fails instead."""

    async def sleep(self, seconds: float) -> None:
        raise TimeoutError(f"asked to wait {seconds} s")


async def test_concurrent_calls_of_many_replicas_never_overrun_the_burst_window(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = _NoWaiting()
    replicas = [Budget(pg_pool, schema, BudgetPolicy(), clock) for _ in range(6)]
    for replica in replicas:  # each replica has seen the row (1 of the 20 calls a window allows, each)
        await replica.spend(tenant, 1, is_oauth=False, is_search=False)

    calls = [r.spend(tenant, 1, is_oauth=False, is_search=False) for r in replicas * 4]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    assert sum(1 for o in outcomes if o is None) == 20 - len(replicas), outcomes
    assert all(isinstance(o, TimeoutError) for o in outcomes if o is not None)
    assert await replicas[0].spent_today(tenant) == 20


async def test_refunds_give_back_uncharged_calls(pg_pool: asyncpg.Pool, schema: str, tenant: str) -> None:
    budget, _ = _replicas(pg_pool, schema, FakeClock())
    await budget.spend(tenant, 10, is_oauth=False, is_search=False)

    await budget.refund(tenant, 10)

    assert await budget.spent_today(tenant) == 0


async def test_charges_and_refunds_commit_without_waiting_for_their_flush_and_nothing_else_does(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    """The ledger is a pacing estimate (`pipedrive_client.budget`'s docstring): a charge's and a refund's
    transaction run with `synchronous_commit = off`, the setting ends with them, the plan commits as usual."""
    async with pg_pool.acquire() as conn:
        budget = Budget(cast(asyncpg.Pool, conn), schema, BudgetPolicy(), FakeClock())
        usual = await conn.fetchval("SHOW synchronous_commit")
        assert usual != "off"
        async with conn.transaction():  # what the statement's own transaction is in autocommit
            await budget.spend(tenant, 10, is_oauth=False, is_search=False)
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        assert await conn.fetchval("SHOW synchronous_commit") == usual
        async with conn.transaction():
            await budget.spend(tenant, 10, is_oauth=False, is_search=False)  # from the remembered row
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        async with conn.transaction():
            await budget.refund(tenant, 10)
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        async with conn.transaction():
            await budget.set_plan(tenant, Plan.GROWTH, 1)
            assert await conn.fetchval("SHOW synchronous_commit") == usual

        assert await budget.spent_today(tenant) == 10


async def test_no_replica_sends_inside_a_closed_window(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    clock = FakeClock()
    first, second = _replicas(pg_pool, schema, clock)

    await first.close(tenant, ClosedWindow(clock.now() + 7, for_day=False))
    await second.spend(tenant, 1, is_oauth=False, is_search=False)
    assert clock.slept == [pytest.approx(7)]

    await first.close(tenant, ClosedWindow(clock.now() + 3_600, for_day=True))
    with pytest.raises(BudgetExhausted) as exhausted:
        await second.spend(tenant, 1, is_oauth=False, is_search=False)
    assert exhausted.value.resume_at == pytest.approx(clock.now() + 3_600)


def test_answers_close_windows_by_retry_after_then_ratelimit_reset() -> None:
    now = 1000.0
    assert closed_window_from(429, {"retry-after": "30"}, now, daily=True) == ClosedWindow(1030.0, True)
    assert closed_window_from(429, {"x-ratelimit-reset": "2"}, now, daily=False) == ClosedWindow(
        1002.0, False
    )
    assert closed_window_from(429, {}, now, daily=False) == ClosedWindow(1002.0, False)
    assert closed_window_from(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}, now, False) == (
        ClosedWindow(1001.0, False)
    )
    assert (
        closed_window_from(200, {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "1"}, now, False) is None
    )
    assert closed_window_from(429, {"retry-after": "soon"}, now, daily=False) == ClosedWindow(1002.0, False)


async def test_tenants_whose_daily_budget_is_spent_are_listed_until_it_reopens(
    pg_pool: asyncpg.Pool, schema: str
) -> None:
    clock = FakeClock(start=86_400 * 20_000 + 3_600)
    budget, _ = _replicas(pg_pool, schema, clock, share=0.001)  # 30 tokens on Lite with one seat
    refused, spent, half, paused = (f"tenant-{secrets.token_hex(6)}" for _ in range(4))
    await budget.close(refused, ClosedWindow(clock.now() + 7_200, for_day=True))
    await budget.spend(spent, 30, is_oauth=False, is_search=False)
    await budget.spend(half, 15, is_oauth=False, is_search=False)
    await budget.close(paused, ClosedWindow(clock.now() + 7, for_day=False))

    listed = {b.tenant_id: b for b in await budget.exhausted_for_day()}

    assert listed[refused] == ExhaustedBudget(refused, clock.now() + 7_200, by_pipedrive=True)
    assert listed[spent] == ExhaustedBudget(spent, 86_400 * 20_001, by_pipedrive=False)
    assert half not in listed and paused not in listed
    clock.time = 86_400 * 20_001
    assert {refused, spent} & {b.tenant_id for b in await budget.exhausted_for_day()} == set()


async def test_no_tenant_is_exhausted_before_the_schema_is_installed(pg_pool: asyncpg.Pool) -> None:
    assert await Budget(pg_pool, f"pdc_absent_{secrets.token_hex(4)}").exhausted_for_day() == []
