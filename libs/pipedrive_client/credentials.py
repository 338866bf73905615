"""Tenants' Pipedrive credentials (API token or OAuth tokens), encrypted at rest in Postgres.

Secrets live only inside the AES-GCM ciphertext; `api_domain` and `expires_at` are plain columns so that
expiry can be checked without decrypting. Values hold secrets as `SecretStr`, so a stray repr or log line
shows `**********`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """Credentials as read from their row, with the row's version (bumped on every write), the Pipedrive
    company and user they belong to (when known), and why Pipedrive refused them for good, if it did:
    then the connection needs reconnecting."""

    credentials: Credentials
    version: int
    company_id: int | None = None
    user_id: int | None = None
    refused_reason: str | None = None
    refused_at: datetime | None = None


@dataclass
class ReEncryption:
    """What `re_encrypt` did: rows moved to the current key, and tenants no configured key could read."""

    key_id: str
    re_encrypted: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RefusedConnection:
    """A tenant whose stored credentials Pipedrive refused for good (a revoked API token or grant, a
    refresh token refused): no call is sent with them until the tenant reconnects."""

    tenant_id: str
    reason: str
    refused_at: datetime


async def refused_connections(pool: asyncpg.Pool, schema: str = DEFAULT_SCHEMA) -> list[RefusedConnection]:
    """Every connection that needs reconnecting, by tenant id. Reads no secret, so it needs no key: what
    monitoring reads. None before the schema is installed, or while another process installs it (the
    table there, a later migration's columns not yet)."""
    try:
        rows = await pool.fetch(
            f"SELECT tenant_id, refused_reason, refused_at FROM {checked_schema(schema)}.credentials"
            " WHERE refused_at IS NOT NULL ORDER BY tenant_id"
        )
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        return []
    return [
        RefusedConnection(r["tenant_id"], r["refused_reason"] or "refused", r["refused_at"]) for r in rows
    ]


class CredentialStore:
    """Reads and writes the `credentials` table of the client's schema."""

    def __init__(self, pool: asyncpg.Pool, cipher: CredentialCipher, schema: str = DEFAULT_SCHEMA) -> None:
        self._pool = pool
        self._cipher = cipher
        self._table = f"{checked_schema(schema)}.credentials"
        self._read: dict[str, tuple[bytes, str | None, dict[str, Any]]] = {}
        """Each tenant's secrets as last decrypted, with the ciphertext and key id they came from."""

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool the store uses (the OAuth refresher locks rows through it)."""
        return self._pool

    async def save(self, tenant_id: str, credentials: Credentials, conn: Connection | None = None) -> int:
        """Insert or replace the tenant's credentials (no longer refused, whatever the old ones were);
        returns the row's new version. The company and user stay until `identify` says otherwise."""
        if conn is None:
            async with self._pool.acquire() as own:
                return await self.save(tenant_id, credentials, own)
        version: int = await conn.fetchval(
            f"INSERT INTO {self._table} AS c (tenant_id, kind, ciphertext, api_domain, expires_at, key_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (tenant_id) DO UPDATE SET kind = EXCLUDED.kind, ciphertext = EXCLUDED.ciphertext,"
            " api_domain = EXCLUDED.api_domain, expires_at = EXCLUDED.expires_at, updated_at = now(),"
            " refused_at = NULL, refused_reason = NULL, key_id = EXCLUDED.key_id,"
            " version = c.version + 1 RETURNING version",
            tenant_id,
            credentials.kind,
            self._cipher.encrypt(tenant_id, _secret_json(credentials)),
            credentials.api_domain,
            _expiry(credentials),
            self._cipher.key_id,
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
            f"SELECT kind, ciphertext, key_id, api_domain, expires_at, version, company_id, user_id,"
            f" refused_reason, refused_at FROM {self._table} WHERE tenant_id = $1{lock}",
            tenant_id,
        )
        if row is None:
            raise InvalidApiKey()
        return StoredCredentials(
            self._decrypted(tenant_id, row),
            row["version"],
            row["company_id"],
            row["user_id"],
            row["refused_reason"],
            row["refused_at"],
        )

    def _decrypted(self, tenant_id: str, row: Any) -> Credentials:
        """The credentials of a row. A client reads its tenant's row before every call (a revoked or
        replaced credential takes effect at the next call), but the row rarely changes: the secrets
        decrypted from a ciphertext are kept and not decrypted again while the row holds the same bytes
        under the same key id (decryption is a function of those and the tenant). Every write of the
        secrets (a new token, a refresh, a re-encryption) writes a new ciphertext (a fresh nonce each
        time): that one is decrypted."""
        ciphertext, key_id = row["ciphertext"], row["key_id"]
        kept = self._read.get(tenant_id)
        if kept is not None and kept[0] == ciphertext and kept[1] == key_id:
            secrets = kept[2]
        else:
            secrets = orjson.loads(self._cipher.decrypt(tenant_id, ciphertext, key_id))
            self._read[tenant_id] = (ciphertext, key_id, secrets)
        return _credentials(row, secrets)

    async def identify(self, tenant_id: str, company_id: int, user_id: int) -> None:
        """Record which Pipedrive company and user the tenant's credentials belong to."""
        await self._pool.execute(
            f"UPDATE {self._table} SET company_id = $2, user_id = $3 WHERE tenant_id = $1",
            tenant_id,
            company_id,
            user_id,
        )

    async def mark_refused(
        self, tenant_id: str, version: int, reason: str, conn: Connection | None = None
    ) -> bool:
        """Pipedrive refused the credentials of row `version` for good: the connection needs
        reconnecting. A row saved since (a reconnection) is left alone; True when marked."""
        executor = conn if conn is not None else self._pool
        marked = await executor.fetchval(
            f"UPDATE {self._table} SET refused_at = now(), refused_reason = $3"
            " WHERE tenant_id = $1 AND version = $2 AND refused_at IS NULL RETURNING true",
            tenant_id,
            version,
            reason,
        )
        return bool(marked)

    async def tenants_of_company(self, company_id: int, kind: str = "oauth") -> list[str]:
        """The tenants connected to a Pipedrive company with credentials of `kind`."""
        rows = await self._pool.fetch(
            f"SELECT tenant_id FROM {self._table} WHERE company_id = $1 AND kind = $2 ORDER BY tenant_id",
            company_id,
            kind,
        )
        return [r["tenant_id"] for r in rows]

    async def exists(self, tenant_id: str) -> bool:
        """Whether the tenant has stored credentials (readable or not, refused or not): it is connected."""
        found = await self._pool.fetchval(f"SELECT true FROM {self._table} WHERE tenant_id = $1", tenant_id)
        return bool(found)

    async def re_encrypt(self) -> ReEncryption:
        """Move every row written under another key to the current one, row by row (each locked, so a
        refresh that writes at the same time is never overwritten with older tokens)."""
        report = ReEncryption(self._cipher.key_id)
        rows = await self._pool.fetch(
            f"SELECT tenant_id FROM {self._table} WHERE key_id IS DISTINCT FROM $1 ORDER BY tenant_id",
            self._cipher.key_id,
        )
        for row in rows:
            tenant_id: str = row["tenant_id"]
            async with self._pool.acquire() as conn, conn.transaction():
                locked = await conn.fetchrow(
                    f"SELECT ciphertext, key_id FROM {self._table} WHERE tenant_id = $1 FOR UPDATE",
                    tenant_id,
                )
                if locked is None or locked["key_id"] == self._cipher.key_id:
                    continue  # disconnected, or written again under the current key meanwhile
                try:
                    plaintext = self._cipher.decrypt(tenant_id, locked["ciphertext"], locked["key_id"])
                except CredentialsUnreadable:
                    report.unreadable.append(tenant_id)
                    continue
                await conn.execute(
                    f"UPDATE {self._table} SET ciphertext = $2, key_id = $3 WHERE tenant_id = $1",
                    tenant_id,
                    self._cipher.encrypt(tenant_id, plaintext),
                    self._cipher.key_id,
                )
                report.re_encrypted += 1
        return report

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
