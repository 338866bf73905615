"""The API key the console calls the services with, one per tenant.

The browser never holds a tenant API key: the console mints one for the tenant through tenant_auth (label
`console`) the first time a user of that tenant needs a service, and keeps it AES-GCM encrypted in its own
schema (the tenant id as associated data, so a row copied to another tenant does not decrypt). When a
service answers 401 (the key was revoked), the key is replaced once and the call repeated.
"""

from __future__ import annotations

import os

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenant_auth.registry import TenantRegistry

_NONCE_BYTES = 12
LABEL = "console"


class KeySealer:
    """Encrypts and decrypts stored keys with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, tenant_id: str, api_key: str) -> bytes:
        """`nonce || ciphertext+tag` of the key, bound to the tenant."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, api_key.encode(), tenant_id.encode())

    def open(self, tenant_id: str, sealed: bytes) -> str:
        """The key back (raises `cryptography.exceptions.InvalidTag` for another tenant or tampering)."""
        return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], tenant_id.encode()).decode()


class ServiceKeys:
    """Finds, mints and replaces each tenant's console API key."""

    def __init__(self, pool: asyncpg.Pool, schema: str, registry: TenantRegistry, sealer: KeySealer) -> None:
        self._pool, self._table = pool, f"{schema}.service_keys"
        self._registry, self._sealer = registry, sealer
        self._known: dict[str, str] = {}

    async def key_for(self, tenant_id: str) -> str:
        """The tenant's console key, minted on first use."""
        if tenant_id in self._known:
            return self._known[tenant_id]
        sealed = await self._pool.fetchval(
            f"SELECT sealed_key FROM {self._table} WHERE tenant_id = $1", tenant_id
        )
        if sealed is None:
            return await self._mint(tenant_id)
        self._known[tenant_id] = self._sealer.open(tenant_id, sealed)
        return self._known[tenant_id]

    async def replace(self, tenant_id: str, refused_key: str) -> str:
        """A new key after a service refused `refused_key` (another replica may have replaced it already)."""
        self._known.pop(tenant_id, None)
        refused_id = refused_key.split("_")[1]
        await self._pool.execute(
            f"DELETE FROM {self._table} WHERE tenant_id = $1 AND key_id = $2", tenant_id, refused_id
        )
        return await self.key_for(tenant_id)

    async def _mint(self, tenant_id: str) -> str:
        key = await self._registry.issue_key(tenant_id, LABEL)
        stored = await self._pool.fetchval(
            f"INSERT INTO {self._table} (tenant_id, key_id, sealed_key) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id) DO NOTHING RETURNING true",
            tenant_id,
            key.key_id,
            self._sealer.seal(tenant_id, key.full_key),
        )
        if not stored:  # another replica minted one at the same moment: keep theirs
            await self._registry.revoke_key(tenant_id, key.key_id)
            return await self.key_for(tenant_id)
        self._known[tenant_id] = key.full_key
        return key.full_key
