"""Tenants' Pipedrive credentials (API token or OAuth tokens), encrypted at rest in Postgres.

Secrets live only inside the AES-GCM ciphertext; `api_domain` and `expires_at` are plain columns so that
expiry can be checked without decrypting. Values hold secrets as `SecretStr`, so a stray repr or log line
shows `**********`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy
from pydantic import SecretStr

from pipedrive_client.crypto import CredentialCipher
from pipedrive_client.database import DEFAULT_SCHEMA, checked_schema
from pipedrive_client.errors import CredentialsUnreadable, InvalidApiKey

Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class ApiTokenCredentials:
    """A personal API token, sent in the `x-api-token` header."""

    api_token: SecretStr
    api_domain: str

    kind: Literal["api_token"] = "api_token"


@dataclass(frozen=True)
class OAuthCredentials:
    """OAuth tokens of one installation; `expires_at` is when the access token expires (epoch seconds)."""

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: float
    api_domain: str
    scope: str = ""

    kind: Literal["oauth"] = "oauth"


Credentials = ApiTokenCredentials | OAuthCredentials


@dataclass(frozen=True)
class StoredCredentials:
    """Credentials as read from their row, with the row's version (bumped on every write)."""

    credentials: Credentials
    version: int


class CredentialStore:
    """Reads and writes the `credentials` table of the client's schema."""

    def __init__(self, pool: asyncpg.Pool, cipher: CredentialCipher, schema: str = DEFAULT_SCHEMA) -> None:
        self._pool = pool
        self._cipher = cipher
        self._table = f"{checked_schema(schema)}.credentials"

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool the store uses (the OAuth refresher locks rows through it)."""
        return self._pool

    async def save(self, tenant_id: str, credentials: Credentials, conn: Connection | None = None) -> int:
        """Insert or replace the tenant's credentials; returns the row's new version."""
        if conn is None:
            async with self._pool.acquire() as own:
                return await self.save(tenant_id, credentials, own)
        version: int = await conn.fetchval(
            f"INSERT INTO {self._table} AS c (tenant_id, kind, ciphertext, api_domain, expires_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id) DO UPDATE SET kind = EXCLUDED.kind, ciphertext = EXCLUDED.ciphertext,"
            " api_domain = EXCLUDED.api_domain, expires_at = EXCLUDED.expires_at, updated_at = now(),"
            " version = c.version + 1 RETURNING version",
            tenant_id,
            credentials.kind,
            self._cipher.encrypt(tenant_id, _secret_json(credentials)),
            credentials.api_domain,
            _expiry(credentials),
        )
        return version

    async def load(
        self, tenant_id: str, conn: Connection | None = None, for_update: bool = False
    ) -> StoredCredentials:
        """The tenant's credentials; `InvalidApiKey` when none are stored. `for_update` locks the row
        (call inside a transaction): how refreshes are single-flight across replicas."""
        if conn is None:
            async with self._pool.acquire() as own:
                return await self.load(tenant_id, own, for_update)
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(
            f"SELECT kind, ciphertext, api_domain, expires_at, version FROM {self._table}"
            f" WHERE tenant_id = $1{lock}",
            tenant_id,
        )
        if row is None:
            raise InvalidApiKey()
        secrets = orjson.loads(self._cipher.decrypt(tenant_id, row["ciphertext"]))
        return StoredCredentials(_credentials(row, secrets), row["version"])

    async def delete(self, tenant_id: str) -> bool:
        """Forget the tenant's credentials (disconnect); True when there were some."""
        deleted = await self._pool.fetchval(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 RETURNING true", tenant_id
        )
        return bool(deleted)


def _secret_json(credentials: Credentials) -> bytes:
    if isinstance(credentials, ApiTokenCredentials):
        return orjson.dumps({"api_token": credentials.api_token.get_secret_value()})
    return orjson.dumps(
        {
            "access_token": credentials.access_token.get_secret_value(),
            "refresh_token": credentials.refresh_token.get_secret_value(),
            "scope": credentials.scope,
        }
    )


def _expiry(credentials: Credentials) -> datetime | None:
    if isinstance(credentials, ApiTokenCredentials):
        return None
    return datetime.fromtimestamp(credentials.expires_at, UTC)


def _credentials(row: Any, secrets: dict[str, Any]) -> Credentials:
    try:
        if row["kind"] == "api_token":
            return ApiTokenCredentials(SecretStr(secrets["api_token"]), row["api_domain"])
        return OAuthCredentials(
            SecretStr(secrets["access_token"]),
            SecretStr(secrets["refresh_token"]),
            row["expires_at"].timestamp(),
            row["api_domain"],
            str(secrets.get("scope", "")),
        )
    except (KeyError, TypeError, AttributeError) as failure:
        raise CredentialsUnreadable() from failure
