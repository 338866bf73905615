"""OAuth connects started from the console: the `state` Pipedrive hands back, bound to the console session
that started it. Single use and valid for ten minutes; a callback in another session is refused."""

from __future__ import annotations

import asyncpg

from console.sessions import ConsoleSession

VALID_FOR = "10 minutes"


class OAuthStarts:
    """Remembers and redeems the states of OAuth connects in flight."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool, self._table = pool, f"{schema}.oauth_starts"

    async def remember(self, state: str, session: ConsoleSession) -> None:
        """The session started a connect that Pipedrive will answer with `state`."""
        await self._pool.execute(
            f"INSERT INTO {self._table} (state, session_sha256, tenant_id) VALUES ($1, $2, $3)"
            " ON CONFLICT (state) DO NOTHING",
            state,
            session.token_sha256,
            session.tenant_id,
        )

    async def started_here(self, state: str) -> bool:
        """Whether a console session started the connect with `state` and has not completed it (any
        session, however old): such a connect is completed only in the session that started it."""
        found = await self._pool.fetchval(f"SELECT true FROM {self._table} WHERE state = $1", state)
        return bool(found)

    async def redeem(self, state: str, session: ConsoleSession) -> bool:
        """Whether this session started the connect with `state` (then it is spent)."""
        done = await self._pool.fetchval(
            f"DELETE FROM {self._table} WHERE state = $1 AND session_sha256 = $2 AND tenant_id = $3"
            f" AND started_at > now() - interval '{VALID_FOR}' RETURNING true",
            state,
            session.token_sha256,
            session.tenant_id,
        )
        return bool(done)
