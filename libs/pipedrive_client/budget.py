"""The Pipedrive budget per tenant, shared by every replica through one Postgres row per tenant.

Before each call `Budget.spend` (one compare-and-set UPDATE of the row, see `_try_spend`): waits while a
window is closed (after a 429 or an `x-ratelimit-remaining: 0`), waits while the rolling burst window is
full, and raises `BudgetExhausted` when the call would overspend this integration's share of the daily
budget. After each answer the HTTP layer reports what Pipedrive said (`close`, `refund`).

The charges and refunds commit without waiting for their WAL flush (`_UNFLUSHED_COMMIT`: the statement's
own transaction runs with `synchronous_commit = off`). The ledger is this integration's pacing estimate of
Pipedrive's own count, not data: Pipedrive enforces its limits itself and answers 429, which the client
honours (a closed window, the charge refunded). A PostgreSQL crash can forget at most the charges of its
last few hundred milliseconds (`wal_writer_delay` and up to three times it), never any data: every later
synchronous commit of the server flushes them too. A forgotten charge lets the next calls run that much
ahead of the pacing, which Pipedrive's 429 then corrects; the daily share is off by the same few calls.
Everything else here (plans, closed windows, the row's first insert) commits as usual.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from pipedrive_client.clock import Clock, SystemClock
from pipedrive_client.database import DEFAULT_SCHEMA, checked_schema
from pipedrive_client.errors import BudgetExhausted
from pipedrive_client.metrics import record_budget_left
from pipedrive_client.plans import SEARCH_BURST_LIMIT, Plan, burst_limit, daily_budget

SECONDS_PER_DAY = 86_400
Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class BudgetPolicy:
    """How much of the company's budget this integration may use, and how carefully it spaces calls."""

    daily_share: float = 0.5
    window_seconds: float = 2.0
    # Our clock stamps a request before it travels; the margin keeps it out of Pipedrive's window edge.
    window_margin_seconds: float = 0.25

    def allowance(self, plan: Plan, seats: int) -> int:
        """Tokens this integration may spend per day."""
        return math.floor(daily_budget(plan, seats) * self.daily_share)


@dataclass(frozen=True)
class ClosedWindow:
    """No request may be sent before `until`; `for_day` when the daily budget is spent."""

    until: float
    for_day: bool


def closed_window_from(
    status: int, headers: Mapping[str, str], now: float, daily: bool, window_seconds: float = 2.0
) -> ClosedWindow | None:
    """What an answer's `retry-after` / `x-ratelimit-*` headers say about when to send again."""
    retry_after = _seconds(headers.get("retry-after"))
    reset = _seconds(headers.get("x-ratelimit-reset"))
    if status == 429:
        wait = retry_after if retry_after is not None else reset if reset is not None else window_seconds
        return ClosedWindow(now + max(wait, 0.0), daily)
    if _seconds(headers.get("x-ratelimit-remaining")) == 0 and reset:
        return ClosedWindow(now + reset, False)
    return None


def _seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True)
class BudgetUsage:
    """What a tenant spent today against what it may spend: the plan and seats the budget assumes, the
    company's daily budget, this integration's share of it (`allowance`)."""

    plan: Plan
    seats: int
    spent_today: int
    daily_budget: int
    allowance: int
    share: float


@dataclass(frozen=True)
class ExhaustedBudget:
    """A tenant whose daily budget is spent, for now: Pipedrive refused a call for the day
    (`by_pipedrive`) or this integration spent its share; no call is sent before `until` (epoch seconds)."""

    tenant_id: str
    until: float
    by_pipedrive: bool


class Budget:
    """Burst limiter and daily accounting per tenant, in the `budget` table of the client's schema."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str = DEFAULT_SCHEMA,
        policy: BudgetPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._pool = pool
        self._table = f"{checked_schema(schema)}.budget"
        self._policy = policy or BudgetPolicy()
        self._clock = clock or SystemClock()
        self._rows: dict[str, asyncpg.Record] = {}
        """Each tenant's row as this budget last wrote it (`_try_spend`)."""

    async def set_plan(self, tenant_id: str, plan: Plan, seats: int) -> None:
        """Record the tenant's plan and seats (Lite with one seat until told otherwise)."""
        self._rows.pop(tenant_id, None)
        await self._pool.execute(
            f"INSERT INTO {self._table} (tenant_id, plan, seats) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id) DO UPDATE SET plan = EXCLUDED.plan, seats = EXCLUDED.seats",
            tenant_id,
            plan.value,
            seats,
        )

    async def spend(self, tenant_id: str, cost: int, *, is_oauth: bool, is_search: bool) -> None:
        """Wait until a call may be sent, then charge `cost`.

        Raises `BudgetExhausted` when the call would overspend today's share.
        """
        while True:
            wait = await self._try_spend(tenant_id, cost, is_oauth, is_search)
            if wait is None:
                return
            await self._clock.sleep(wait)

    async def refund(self, tenant_id: str, cost: int) -> None:
        """Give back a charge Pipedrive did not make (the call was refused with 401, 403 or 429); committed
        without waiting for its flush, as the charges are (the module's docstring)."""
        self._rows.pop(tenant_id, None)
        await self._pool.execute(
            f"UPDATE {self._table} SET spent_today = greatest(spent_today - $2, 0)"
            f" FROM {_UNFLUSHED_COMMIT} WHERE tenant_id = $1",
            tenant_id,
            cost,
        )

    async def close(self, tenant_id: str, window: ClosedWindow) -> None:
        """Send nothing for this tenant before `window.until` (from any replica)."""
        self._rows.pop(tenant_id, None)
        await self._pool.execute(
            f"INSERT INTO {self._table} AS b (tenant_id, closed_until, closed_for_day) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id) DO UPDATE SET"
            " closed_for_day = CASE WHEN EXCLUDED.closed_until >= b.closed_until"
            " THEN EXCLUDED.closed_for_day ELSE b.closed_for_day END,"
            " closed_until = greatest(b.closed_until, EXCLUDED.closed_until)",
            tenant_id,
            window.until,
            window.for_day,
        )

    async def spent_today(self, tenant_id: str) -> int:
        """Tokens charged today (UTC day) for the tenant."""
        row = await self._pool.fetchrow(
            f"SELECT day, spent_today FROM {self._table} WHERE tenant_id = $1", tenant_id
        )
        if row is None or row["day"] != _day(self._clock.now()):
            return 0
        spent: int = row["spent_today"]
        return spent

    async def usage(self, tenant_id: str) -> BudgetUsage:
        """Today's spend against the allowance (Lite with one seat until a plan is recorded)."""
        row = await self._pool.fetchrow(
            f"SELECT plan, seats, day, spent_today FROM {self._table} WHERE tenant_id = $1", tenant_id
        )
        plan, seats = (Plan(row["plan"]), int(row["seats"])) if row is not None else (Plan.LITE, 1)
        today = row is not None and row["day"] == _day(self._clock.now())
        return BudgetUsage(
            plan=plan,
            seats=seats,
            spent_today=int(row["spent_today"]) if row is not None and today else 0,
            daily_budget=daily_budget(plan, seats),
            allowance=self._policy.allowance(plan, seats),
            share=self._policy.daily_share,
        )

    async def closed_until(self, tenant_id: str) -> float | None:
        """When the tenant's closed window reopens (after a 429 or a spent day; epoch seconds), or None
        when a call may be tried now: a worker serving many tenants defers this one instead of waiting."""
        until: float | None = await self._pool.fetchval(
            f"SELECT closed_until FROM {self._table} WHERE tenant_id = $1", tenant_id
        )
        return until if until is not None and until > self._clock.now() else None

    async def closed_for_day_until(self, tenant_id: str) -> float | None:
        """When today's exhausted budget reopens (epoch seconds), or None when it is not closed."""
        row = await self._pool.fetchrow(
            f"SELECT closed_until, closed_for_day FROM {self._table} WHERE tenant_id = $1", tenant_id
        )
        if row is None or not row["closed_for_day"] or row["closed_until"] <= self._clock.now():
            return None
        until: float = row["closed_until"]
        return until

    async def exhausted_for_day(self) -> list[ExhaustedBudget]:
        """Every tenant whose daily budget is spent now (closed for the day by Pipedrive, or this
        integration's share of today spent), by tenant id: what monitoring reads (no credentials needed).
        None before the schema is installed."""
        now = self._clock.now()
        today = _day(now)
        try:
            rows = await self._pool.fetch(
                f"SELECT tenant_id, plan, seats, day, spent_today, closed_until, closed_for_day"
                f" FROM {self._table} WHERE (closed_for_day AND closed_until > $1)"
                " OR (day = $2 AND spent_today > 0) ORDER BY tenant_id",
                now,
                today,
            )
        except asyncpg.UndefinedTableError:
            return []
        exhausted = []
        for row in rows:
            if row["closed_for_day"] and row["closed_until"] > now:
                exhausted.append(ExhaustedBudget(row["tenant_id"], float(row["closed_until"]), True))
            elif row["spent_today"] >= self._policy.allowance(Plan(row["plan"]), row["seats"]):
                exhausted.append(
                    ExhaustedBudget(row["tenant_id"], float((today + 1) * SECONDS_PER_DAY), False)
                )
        return exhausted

    async def _try_spend(self, tenant_id: str, cost: int, is_oauth: bool, is_search: bool) -> float | None:
        """Charge and return None, or return how long to wait before trying again.

        One statement per call while no one else writes the tenant's row: the charge is decided from the
        row as this budget last wrote it and written only if the row is still that one (compared column by
        column in the UPDATE's WHERE, which PostgreSQL checks again on the newest row version when a
        concurrent write got there first). A row changed meanwhile (another replica's call, a refund, a
        closed window) writes nothing: the row is read again and the call decided again from it. A wait or
        a refusal is only ever decided from a row just read, never from the remembered one. The charge
        commits without waiting for its flush (the module's docstring).
        """
        row = self._rows.get(tenant_id)
        remembered = row is not None
        while True:
            if row is None:
                row, remembered = await self._read(tenant_id), False
            now = self._clock.now()
            outcome = _charge(row, now, cost, is_oauth, is_search, self._policy)
            if not isinstance(outcome, _Charged):
                if remembered:
                    row = None
                    continue
                self._rows.pop(tenant_id, None)
                record_budget_left(tenant_id, outcome.left)
                if isinstance(outcome, _Exhausted):
                    raise BudgetExhausted(outcome.until)
                return outcome.seconds
            written = await self._pool.fetchrow(
                f"UPDATE {self._table} SET window_times = $2, search_times = $3, day = $4, spent_today = $5,"
                f" closed_for_day = false FROM {_UNFLUSHED_COMMIT}"
                " WHERE tenant_id = $1 AND plan = $6 AND seats = $7"
                " AND window_times = $8 AND search_times = $9 AND day = $10 AND spent_today = $11"
                " AND closed_until = $12 AND closed_for_day = $13"
                f" RETURNING {_COLUMNS}",
                tenant_id,
                outcome.window,
                outcome.searches,
                outcome.day,
                outcome.spent,
                *(row[column] for column in _COLUMN_NAMES),
            )
            if written is None:  # written by someone else since it was read: read it again
                row = None
                continue
            self._rows[tenant_id] = written
            record_budget_left(tenant_id, outcome.left)
            return None

    async def _read(self, tenant_id: str) -> asyncpg.Record:
        """The tenant's row as it is now (made on its first call)."""
        select = f"SELECT {_COLUMNS} FROM {self._table} WHERE tenant_id = $1"
        row = await self._pool.fetchrow(select, tenant_id)
        if row is None:
            await self._pool.execute(
                f"INSERT INTO {self._table} (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id
            )
            row = await self._pool.fetchrow(select, tenant_id)
        assert row is not None
        return row


_COLUMN_NAMES = (
    "plan",
    "seats",
    "window_times",
    "search_times",
    "day",
    "spent_today",
    "closed_until",
    "closed_for_day",
)
_COLUMNS = ", ".join(_COLUMN_NAMES)
_UNFLUSHED_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS unflushed_commit"
"""Joined into a charge's or a refund's UPDATE: its transaction (the statement's own, autocommit) commits
without waiting for the WAL flush, SET LOCAL in the same round trip (the module's docstring says why that
is safe). `is_local` ends the setting with the transaction: the pooled connection's next statement
commits as usual."""


@dataclass(frozen=True)
class _Charged:
    """The call may be sent: the row's new burst windows, day and spend."""

    window: list[float]
    searches: list[float]
    day: int
    spent: int
    left: int


@dataclass(frozen=True)
class _Wait:
    """A window is closed or the burst window is full: try again in `seconds`."""

    seconds: float
    left: int


@dataclass(frozen=True)
class _Exhausted:
    """No call before `until`: the day is closed, or the call would overspend today's share."""

    until: float
    left: int


def _charge(
    row: asyncpg.Record, now: float, cost: int, is_oauth: bool, is_search: bool, policy: BudgetPolicy
) -> _Charged | _Wait | _Exhausted:
    """What a call of `cost` may do now, given the tenant's budget row."""
    plan = Plan(row["plan"])
    day = _day(now)
    spent = row["spent_today"] if row["day"] == day else 0
    allowance = policy.allowance(plan, row["seats"])
    left = allowance - spent
    if now < row["closed_until"]:
        if row["closed_for_day"]:
            return _Exhausted(row["closed_until"], left)
        return _Wait(float(row["closed_until"] - now), left)
    if spent + cost > allowance:
        return _Exhausted((day + 1) * SECONDS_PER_DAY, left)
    horizon = now - policy.window_seconds - policy.window_margin_seconds
    window = sorted(t for t in row["window_times"] if t > horizon)
    searches = sorted(t for t in row["search_times"] if t > horizon)
    wait = _burst_wait(window, burst_limit(plan, is_oauth), horizon)
    if is_search:
        search_wait = _burst_wait(searches, SEARCH_BURST_LIMIT, horizon)
        wait = max(wait or 0.0, search_wait or 0.0) or None
    if wait is not None:
        return _Wait(wait, left)
    return _Charged(
        [*window, now], [*searches, now] if is_search else searches, day, spent + cost, left - cost
    )


def _burst_wait(window: list[float], limit: int, horizon: float) -> float | None:
    if len(window) < limit:
        return None
    # The oldest request that must leave the window before one more fits.
    return max(window[len(window) - limit] - horizon, 0.001)


def _day(now: float) -> int:
    return int(now // SECONDS_PER_DAY)
