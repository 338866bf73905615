"""Failed sign-ins, limited per account and per client address over a sliding window.

A sign-in is refused, before its password is even checked, once the account or the address has failed
`per_account` or `per_address` times within `window`; a successful sign-in clears the account's count.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from console.sign_in_limits import SignInLimits


class FailedSignIns:
    """Records failures and says whether an account or address is locked out for now."""

    def __init__(self, pool: asyncpg.Pool, schema: str, limits: SignInLimits) -> None:
        self._pool, self._table, self._limits = pool, f"{schema}.failed_sign_ins", limits

    async def locked_for(self, email: str, address: str) -> timedelta | None:
        """How long until another try is allowed, or None when the account and address may try now."""
        rows = await self._pool.fetch(
            f"SELECT scope, count(*) AS failures, now() - min(failed_at) AS oldest_age FROM {self._table}"
            " WHERE ((scope = 'account' AND subject = $1) OR (scope = 'address' AND subject = $2))"
            " AND failed_at > now() - $3::interval GROUP BY scope",
            email, address, self._limits.window,
        )  # fmt: skip
        limit = {"account": self._limits.per_account, "address": self._limits.per_address}
        waits = [self._limits.window - r["oldest_age"] for r in rows if r["failures"] >= limit[r["scope"]]]
        return max(waits, default=None)

    async def record(self, email: str, address: str) -> None:
        """One more failure for the account and the address (and old ones forgotten)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO {self._table} (scope, subject) VALUES ('account', $1), ('address', $2)",
                email,
                address,
            )
            await conn.execute(
                f"DELETE FROM {self._table} WHERE failed_at < now() - $1::interval", self._limits.window
            )

    async def clear_account(self, email: str) -> None:
        """The account signed in: its past failures no longer count."""
        await self._pool.execute(f"DELETE FROM {self._table} WHERE scope = 'account' AND subject = $1", email)
