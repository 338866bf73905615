"""Credentials are encrypted at rest with AES-GCM, bound to their tenant."""

from __future__ import annotations

import os

import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import (
    ApiTokenCredentials,
    CredentialCipher,
    CredentialStore,
    CredentialsUnreadable,
    InvalidApiKey,
    OAuthCredentials,
    refused_connections,
)
from tests.support.schemas import drop_schemas


def test_a_ciphertext_decrypts_only_for_its_tenant() -> None:
    cipher = CredentialCipher(os.urandom(32))
    blob = cipher.encrypt("tenant-a", b"secret")

    assert cipher.decrypt("tenant-a", blob) == b"secret"
    with pytest.raises(CredentialsUnreadable):
        cipher.decrypt("tenant-b", blob)


def test_every_encryption_uses_a_fresh_nonce_and_tampering_is_detected() -> None:
    cipher = CredentialCipher(os.urandom(32))
    first, second = cipher.encrypt("t", b"secret"), cipher.encrypt("t", b"secret")

    assert first[:12] != second[:12]
    tampered = first[:-1] + bytes([first[-1] ^ 1])
    with pytest.raises(CredentialsUnreadable):
        cipher.decrypt("t", tampered)
    with pytest.raises(CredentialsUnreadable):
        CredentialCipher(os.urandom(32)).decrypt("t", first)


def test_the_key_must_be_256_bits_and_may_come_from_settings_as_hex() -> None:
    key = os.urandom(32)
    from_settings = CredentialCipher(SecretStr(key.hex()))

    assert CredentialCipher(key).decrypt("t", from_settings.encrypt("t", b"x")) == b"x"
    with pytest.raises(ValueError, match="32 bytes"):
        CredentialCipher(os.urandom(16))


async def test_stored_credentials_round_trip_and_hold_no_plaintext(
    pg_pool: asyncpg.Pool, schema: str, credentials_key: bytes, tenant: str
) -> None:
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), schema)
    oauth = OAuthCredentials(SecretStr("access-xyz"), SecretStr("refresh-xyz"), 1_900_000_000.0,
                             "https://acme.pipedrive.com", "base")  # fmt: skip

    first_version = await store.save(
        tenant, ApiTokenCredentials(SecretStr("tok-123"), "https://api.pipedrive.com")
    )
    second_version = await store.save(tenant, oauth)

    loaded = await store.load(tenant)
    assert (first_version, second_version, loaded.version) == (1, 2, 2)
    assert loaded.credentials == oauth
    row = await pg_pool.fetchrow(f"SELECT * FROM {schema}.credentials WHERE tenant_id = $1", tenant)
    assert (
        row is not None and b"access-xyz" not in row["ciphertext"] and b"refresh-xyz" not in row["ciphertext"]
    )
    assert row["kind"] == "oauth" and row["expires_at"].timestamp() == 1_900_000_000.0


async def test_a_row_copied_to_another_tenant_fails_to_decrypt(
    pg_pool: asyncpg.Pool, schema: str, credentials_key: bytes, tenant: str
) -> None:
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), schema)
    await store.save(tenant, ApiTokenCredentials(SecretStr("tok-123"), "https://api.pipedrive.com"))
    thief = f"{tenant}-other"

    await pg_pool.execute(
        f"INSERT INTO {schema}.credentials (tenant_id, kind, ciphertext, api_domain)"
        f" SELECT $2, kind, ciphertext, api_domain FROM {schema}.credentials WHERE tenant_id = $1",
        tenant,
        thief,
    )

    with pytest.raises(CredentialsUnreadable):
        await store.load(thief)


async def test_a_store_that_read_a_row_reads_every_later_write_of_it(
    pg_pool: asyncpg.Pool, schema: str, credentials_key: bytes, tenant: str
) -> None:
    # The store keeps what it decrypted: a replaced token, another key or a tampered row is read anew.
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), schema)
    await store.save(tenant, ApiTokenCredentials(SecretStr("tok-1"), "https://api.pipedrive.com"))
    assert (await store.load(tenant)).credentials == (await store.load(tenant)).credentials

    await CredentialStore(pg_pool, CredentialCipher(credentials_key), schema).save(
        tenant, ApiTokenCredentials(SecretStr("tok-2"), "https://acme.pipedrive.com")
    )
    replaced = (await store.load(tenant)).credentials
    assert isinstance(replaced, ApiTokenCredentials)
    assert (replaced.api_token.get_secret_value(), replaced.api_domain) == (
        "tok-2",
        "https://acme.pipedrive.com",
    )

    new_key = os.urandom(32)
    moved = CredentialStore(pg_pool, CredentialCipher(new_key, [credentials_key]), schema)
    assert (await moved.re_encrypt()).re_encrypted >= 1
    with pytest.raises(CredentialsUnreadable):  # written under a key this store does not have
        await store.load(tenant)

    await store.save(tenant, ApiTokenCredentials(SecretStr("tok-3"), "https://api.pipedrive.com"))
    assert (await store.load(tenant)).credentials.api_domain == "https://api.pipedrive.com"
    ciphertext = await pg_pool.fetchval(
        f"SELECT ciphertext FROM {schema}.credentials WHERE tenant_id = $1", tenant
    )
    tampered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    await pg_pool.execute(
        f"UPDATE {schema}.credentials SET ciphertext = $2 WHERE tenant_id = $1", tenant, tampered
    )
    with pytest.raises(CredentialsUnreadable):
        await store.load(tenant)


async def test_a_tenant_without_credentials_has_an_invalid_api_key(
    pg_pool: asyncpg.Pool, schema: str, credentials_key: bytes, tenant: str
) -> None:
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), schema)
    await store.save(tenant, ApiTokenCredentials(SecretStr("tok"), "https://api.pipedrive.com"))

    assert await store.delete(tenant)
    with pytest.raises(InvalidApiKey):
        await store.load(tenant)


async def test_connections_refused_for_good_are_listed_without_the_key_until_reconnected(
    pg_pool: asyncpg.Pool, schema: str, credentials_key: bytes, tenant: str
) -> None:
    store = CredentialStore(pg_pool, CredentialCipher(credentials_key), schema)
    token = ApiTokenCredentials(SecretStr("tok"), "https://api.pipedrive.com")
    version = await store.save(tenant, token)
    assert tenant not in {r.tenant_id for r in await refused_connections(pg_pool, schema)}

    await store.mark_refused(tenant, version, "Pipedrive refused the API token (revoked or changed)")

    [refused] = [r for r in await refused_connections(pg_pool, schema) if r.tenant_id == tenant]
    assert refused.reason == "Pipedrive refused the API token (revoked or changed)"
    await store.save(tenant, token)
    assert tenant not in {r.tenant_id for r in await refused_connections(pg_pool, schema)}
    assert await refused_connections(pg_pool, f"pdc_absent_{os.urandom(4).hex()}") == []


async def test_a_schema_another_process_is_still_installing_has_no_refused_connections(
    pg_pool: asyncpg.Pool,
) -> None:
    schema = f"pdc_installing_{os.urandom(4).hex()}"
    await pg_pool.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.credentials (tenant_id text)")
    try:
        assert await refused_connections(pg_pool, schema) == []  # 0004's columns not there yet
    finally:
        await drop_schemas(pg_pool, schema)
