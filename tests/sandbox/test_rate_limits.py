"""Pipedrive's token-based limits, probed request by request on a frozen clock."""

from __future__ import annotations

from pipedrive_sandbox import Plan
from pipedrive_sandbox.ratelimit import daily_budget
from tests.sandbox.conftest import SandboxClient, SandboxFactory, oauth_tokens


async def _burst(client: SandboxClient, count: int, path: str = "/api/v2/organizations/1") -> list[int]:
    return [(await client.call("GET", path)).status for _ in range(count)]


async def test_the_21st_request_in_a_window_on_a_lite_api_token_gets_429(sandbox: SandboxClient) -> None:
    statuses = await _burst(sandbox, 21)

    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429


async def test_the_first_request_after_the_window_is_admitted(sandbox: SandboxClient) -> None:
    await _burst(sandbox, 21)
    sandbox.handle.state.clock.advance(1.999)
    still_limited = await sandbox.call("GET", "/api/v2/organizations/1")
    sandbox.handle.state.clock.advance(0.001)

    after_window = await sandbox.call("GET", "/api/v2/organizations/1")

    assert still_limited.status == 429
    assert after_window.status == 200


async def test_burst_429_has_the_documented_body_and_headers(sandbox: SandboxClient) -> None:
    await _burst(sandbox, 20)

    reply = await sandbox.call("GET", "/api/v2/organizations/1")

    assert reply.status == 429
    assert reply.body["success"] is False and reply.body["errorCode"] == 429
    assert reply.headers["X-RateLimit-Limit"] == "20"
    assert reply.headers["X-RateLimit-Remaining"] == "0"
    assert reply.headers["X-RateLimit-Reset"] == "2"


async def test_rate_limit_headers_count_down_within_the_window(sandbox: SandboxClient) -> None:
    first = await sandbox.call("GET", "/api/v2/organizations/1")
    second = await sandbox.call("GET", "/api/v2/organizations/1")

    assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == ("19", "18")


async def test_burst_limits_follow_the_plan(make_sandbox: SandboxFactory) -> None:
    growth = await make_sandbox(plan=Plan.GROWTH)

    statuses = await _burst(growth, 41)

    assert statuses.count(200) == 40 and statuses[-1] == 429


async def test_search_has_its_own_limit_of_10_per_window(make_sandbox: SandboxFactory) -> None:
    ultimate = await make_sandbox(plan=Plan.ULTIMATE)

    statuses = await _burst(ultimate, 11, "/api/v2/persons/search?term=anna")

    assert statuses[:10] == [200] * 10 and statuses[10] == 429


async def test_each_token_has_its_own_burst_window(make_sandbox: SandboxFactory) -> None:
    client = await make_sandbox(seats=2)
    await _burst(client, 20)
    second_user = list(client.handle.state.account.users.values())[1]
    client.token = second_user.api_token

    reply = await client.call("GET", "/api/v2/organizations/1")

    assert reply.status == 200


async def test_exhausted_daily_budget_answers_429_with_retry_after(sandbox: SandboxClient) -> None:
    state = sandbox.handle.state
    state.limiter.spent_today = daily_budget(Plan.LITE, 1) - 5

    within_budget = await sandbox.call("GET", "/api/v2/organizations/1")
    over_budget = await sandbox.call("GET", "/api/v2/organizations", params={"limit": 1})

    assert within_budget.status == 200
    assert over_budget.status == 429
    assert over_budget.body == {"success": False, "error": "daily request budget exceeded", "errorCode": 429}
    # The frozen clock starts at 12:00 UTC: twelve hours until the daily reset.
    assert over_budget.headers["Retry-After"] == str(12 * 3600)


async def test_a_company_budget_other_than_the_plans_and_the_wait_each_429_told_in_the_ledger(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox(daily_budget=12)

    statuses = [
        (await sandbox.call("GET", "/api/v2/organizations", params={"limit": 1})).status for _ in "ab"
    ]

    assert statuses == [200, 429]
    entries = sandbox.handle.state.ledger.entries
    assert [(e.status, e.wait_seconds) for e in entries] == [(200, None), (429, 12 * 3600)]


async def test_daily_budget_resets_at_midnight_utc(sandbox: SandboxClient) -> None:
    state = sandbox.handle.state
    state.limiter.spent_today = state.limiter.budget
    state.clock.advance(12 * 3600)

    reply = await sandbox.call("GET", "/api/v2/organizations/1")

    assert reply.status == 200


async def test_daily_budget_is_30000_per_seat_times_the_plan_multiplier() -> None:
    assert daily_budget(Plan.LITE, 1) == 30_000
    assert daily_budget(Plan.GROWTH, 3) == 180_000
    assert daily_budget(Plan.PREMIUM, 2) == 300_000
    assert daily_budget(Plan.ULTIMATE, 1) == 210_000


async def test_each_call_is_charged_its_token_cost(sandbox: SandboxClient) -> None:
    limiter = sandbox.handle.state.limiter
    await sandbox.call("GET", "/api/v2/organizations", params={"limit": 1})
    await sandbox.call("GET", "/api/v2/organizations/1")
    await sandbox.call("GET", "/api/v2/organizations/search", params={"term": "an"})
    await sandbox.call("GET", "/v1/users/me")

    assert limiter.spent_today == 10 + 1 + 20 + 2


async def test_a_client_that_keeps_calling_through_429s_is_blocked_with_403(sandbox: SandboxClient) -> None:
    await _burst(sandbox, 20)
    ignored = await _burst(sandbox, 10)

    blocked = await sandbox.call("GET", "/api/v2/organizations/1")
    sandbox.handle.state.clock.advance(2)
    still_blocked = await sandbox.call("GET", "/api/v2/organizations/1")

    assert ignored == [429] * 10
    assert blocked.status == 403
    assert still_blocked.status == 403


async def test_the_block_lifts_after_its_duration(sandbox: SandboxClient) -> None:
    await _burst(sandbox, 31)
    sandbox.handle.state.clock.advance(sandbox.handle.state.config.block_seconds)

    reply = await sandbox.call("GET", "/api/v2/organizations/1")

    assert reply.status == 200


async def test_oauth_tokens_get_the_oauth_burst_limit(make_sandbox: SandboxFactory) -> None:
    client = await make_sandbox()
    issued = await oauth_tokens(client)
    client.token = None
    headers = {"Authorization": f"Bearer {issued['access_token']}"}

    statuses = [
        (await client.call("GET", "/api/v2/organizations/1", headers=headers)).status for _ in range(81)
    ]

    assert statuses[:80] == [200] * 80 and statuses[80] == 429
