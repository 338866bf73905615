"""Server-side console sessions in the console's schema.

The browser holds only a random token in an HttpOnly cookie; the table keeps its SHA-256, the signed-in
user, the session's CSRF token and when it was last used. A session ends at sign-out, after
`idle` without a request, `max_age` after sign-in, and when its user is removed or given a new password
(checked on every request against tenant_auth's console users).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import asyncpg

from console.sessions import ConsoleSession, token_digest
from tenant_auth.users import ConsoleUser, ConsoleUsers

# Writing last_seen_at on every request would cost a write per page; a minute of slack is harmless.
_TOUCH_EVERY = timedelta(minutes=1)


class SessionStore:
    """Starts, finds, touches and ends console sessions."""

    def __init__(
        self, pool: asyncpg.Pool, schema: str, users: ConsoleUsers, idle: timedelta, max_age: timedelta
    ) -> None:
        self._pool, self._table = pool, f"{schema}.sessions"
        self._users, self._idle, self._max_age = users, idle, max_age

    async def start(self, user: ConsoleUser) -> str:
        """A new session for a user who just signed in; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        await self._pool.execute(
            f"INSERT INTO {self._table} (token_sha256, tenant_id, email, csrf_token) VALUES ($1, $2, $3, $4)",
            token_digest(token),
            user.tenant_id,
            user.email,
            secrets.token_urlsafe(32),
        )
        return token

    async def find(self, token: str) -> ConsoleSession | None:
        """The live session of a cookie's token (touched), or None: unknown, expired or its user changed."""
        row = await self._pool.fetchrow(
            f"SELECT *, now() AS now FROM {self._table} WHERE token_sha256 = $1", token_digest(token)
        )
        if row is None:
            return None
        user = await self._users.get(row["email"])
        if self._is_over(row, user) or user is None:
            await self.end(token)
            return None
        if row["now"] - row["last_seen_at"] > _TOUCH_EVERY:
            await self._pool.execute(
                f"UPDATE {self._table} SET last_seen_at = now() WHERE token_sha256 = $1", row["token_sha256"]
            )
        return ConsoleSession(
            row["token_sha256"],
            row["tenant_id"],
            row["email"],
            user.role,
            row["csrf_token"],
            row["notice"],
            row["field_problems"],
        )

    def _is_over(self, row: asyncpg.Record, user: ConsoleUser | None) -> bool:
        now: datetime = row["now"]
        return (
            user is None
            or user.tenant_id != row["tenant_id"]
            or user.credentials_changed_at > row["started_at"]
            or now - row["last_seen_at"] > self._idle
            or now - row["started_at"] > self._max_age
        )

    async def end(self, token: str) -> None:
        """Sign out: the session is gone."""
        await self._pool.execute(f"DELETE FROM {self._table} WHERE token_sha256 = $1", token_digest(token))

    async def leave_notice(self, session: ConsoleSession, notice: str) -> None:
        """A sentence to show on the next page the session sees (after a redirect)."""
        await self._pool.execute(
            f"UPDATE {self._table} SET notice = $2 WHERE token_sha256 = $1", session.token_sha256, notice
        )

    async def take_notice(self, session: ConsoleSession) -> str | None:
        """The notice left for this session, removed as it is shown."""
        if session.notice is None:
            return None
        await self._pool.execute(
            f"UPDATE {self._table} SET notice = NULL WHERE token_sha256 = $1", session.token_sha256
        )
        return session.notice

    async def leave_field_problems(self, session: ConsoleSession, problems: dict[str, str]) -> None:
        """A form's problems (form field -> sentence) to show next to their fields on the next page the
        session sees (after a redirect)."""
        await self._pool.execute(
            f"UPDATE {self._table} SET field_problems = $2 WHERE token_sha256 = $1",
            session.token_sha256,
            problems,
        )

    async def take_field_problems(self, session: ConsoleSession) -> dict[str, str]:
        """The form's problems left for this session, removed as they are shown."""
        if not session.field_problems:
            return {}
        await self._pool.execute(
            f"UPDATE {self._table} SET field_problems = NULL WHERE token_sha256 = $1", session.token_sha256
        )
        return dict(session.field_problems)

    async def prune(self) -> int:
        """Delete sessions idle or old enough to be over; returns how many."""
        done = await self._pool.execute(
            f"DELETE FROM {self._table} WHERE last_seen_at < now() - $1::interval"
            " OR started_at < now() - $2::interval",
            self._idle,
            self._max_age,
        )
        return int(done.split()[-1])
