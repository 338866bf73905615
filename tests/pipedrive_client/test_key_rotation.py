"""Credentials keys carry an id and rotate: rows remember the key they were written under, an old key
stays readable while it is configured as old, `re_encrypt` moves every row to the current key (naming
the tenants no configured key can read), and rows written before keys had ids stay readable."""

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
    install_schema,
)
from pipedrive_client.crypto import key_id_of
from tests.support.schemas import schema_fixture

TOKEN = ApiTokenCredentials(SecretStr("tok-rotate"), "https://api.pipedrive.com")


def test_a_key_id_tells_keys_apart_and_does_not_reveal_the_key() -> None:
    old, new = os.urandom(32), os.urandom(32)

    assert key_id_of(old) == key_id_of(SecretStr(old.hex())) != key_id_of(new)
    assert len(key_id_of(old)) == 16 and key_id_of(old) not in old.hex()


def test_an_old_key_decrypts_only_while_configured_and_new_writes_use_the_current_key() -> None:
    old, new = os.urandom(32), os.urandom(32)
    blob = CredentialCipher(old).encrypt("t", b"secret")
    rotating = CredentialCipher(new, [old])

    assert rotating.key_id == key_id_of(new)
    assert rotating.decrypt("t", blob, key_id_of(old)) == b"secret"
    assert CredentialCipher(new).decrypt("t", rotating.encrypt("t", b"x"), key_id_of(new)) == b"x"
    with pytest.raises(CredentialsUnreadable, match="not configured"):
        CredentialCipher(new).decrypt("t", blob, key_id_of(old))


async def _key_ids(pool: asyncpg.Pool, schema: str) -> dict[str, str | None]:
    rows = await pool.fetch(f"SELECT tenant_id, key_id FROM {schema}.credentials")
    return {r["tenant_id"]: r["key_id"] for r in rows}


own_schema = schema_fixture("pdc_rotation", install_schema)
"""A client schema of this test only: re-encryption works on every row of its table."""


async def test_re_encrypt_moves_every_row_to_the_current_key_and_names_the_unreadable(
    pg_pool: asyncpg.Pool, own_schema: str, tenant: str
) -> None:
    schema = own_schema
    old, new, lost = os.urandom(32), os.urandom(32), os.urandom(32)
    legacy, orphan = f"{tenant}-legacy", f"{tenant}-orphan"
    await CredentialStore(pg_pool, CredentialCipher(old), schema).save(tenant, TOKEN)
    await CredentialStore(pg_pool, CredentialCipher(old), schema).save(legacy, TOKEN)
    await pg_pool.execute(f"UPDATE {schema}.credentials SET key_id = NULL WHERE tenant_id = $1", legacy)
    await CredentialStore(pg_pool, CredentialCipher(lost), schema).save(orphan, TOKEN)
    rotating = CredentialStore(pg_pool, CredentialCipher(new, [old]), schema)

    done = await rotating.re_encrypt()
    again = await rotating.re_encrypt()

    assert (done.re_encrypted, done.unreadable) == (2, [orphan])
    assert (again.re_encrypted, again.unreadable) == (0, [orphan])
    assert await _key_ids(pg_pool, schema) == {
        tenant: key_id_of(new),
        legacy: key_id_of(new),
        orphan: key_id_of(lost),
    }
    finished = CredentialStore(pg_pool, CredentialCipher(new), schema)  # the old key dropped
    assert (await finished.load(tenant)).credentials == TOKEN
    assert (await finished.load(legacy)).credentials == TOKEN
