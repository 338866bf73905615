"""A console session as the pages see it, and how its token is kept (the sessions' table:
`session_store`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tenant_auth.users import Role


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in user's session, as the pages see it."""

    token_sha256: bytes
    tenant_id: str
    email: str
    role: Role
    csrf_token: str
    notice: str | None = None
    field_problems: dict[str, str] | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the user may change things."""
        return self.role is Role.ADMIN


def token_digest(token: str) -> bytes:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).digest()
