"""`python -m pipedrive_client re-encrypt`: finish a rotation of the credentials key.

    PSYNC_CREDENTIALS_KEY=<new> PSYNC_CREDENTIALS_OLD_KEYS=<old> python -m pipedrive_client re-encrypt

Re-encrypts every stored credential that is not under the current key with it (the services keep reading
both meanwhile), and prints how many were moved. Exits 1 when some credential could be read with none of
the configured keys (those tenants are named: they must connect again); otherwise the old keys can be
removed from every service. Reads DATABASE_URL and the same `PIPEDRIVE_*` / `PSYNC_*` settings as the
services (a credentials key of one's own is required, as for them).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipedrive_client.credentials import CredentialStore, ReEncryption
from pipedrive_client.crypto import CredentialCipher
from pipedrive_client.database import install_schema
from pipedrive_client.settings import PipedriveClientSettings
from postgres_store.pool import create_pool
from service_runtime.settings import settings_from_environment


class DatabaseSettings(BaseSettings):
    """Where the credentials live."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://psync:psync@127.0.0.1:55432/psync"), validation_alias="DATABASE_URL"
    )


async def re_encrypt(client: PipedriveClientSettings, database: DatabaseSettings) -> ReEncryption:
    """Move every credential to the current key."""
    pool = await create_pool(database.database_url.get_secret_value(), max_size=2)
    try:
        await install_schema(pool, client.client_schema)
        cipher = CredentialCipher(client.current_credentials_key, client.old_credentials_keys)
        return await CredentialStore(pool, cipher, client.client_schema).re_encrypt()
    finally:
        await pool.close()


def report(done: ReEncryption) -> int:
    """Print what the rotation did; the exit status (1 when some credential is unreadable)."""
    print(f"re-encrypted {done.re_encrypted} credential(s) under key {done.key_id}")
    if done.unreadable:
        print(
            f"{len(done.unreadable)} credential(s) readable with none of the configured keys"
            f" (these tenants must connect again): {', '.join(done.unreadable)}",
            file=sys.stderr,
        )
        return 1
    print("every credential is under the current key: PSYNC_CREDENTIALS_OLD_KEYS can be removed")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m pipedrive_client")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("re-encrypt", help="move every stored credential to the current key")
    parser.parse_args(argv)
    client = settings_from_environment(PipedriveClientSettings)
    return report(asyncio.run(re_encrypt(client, DatabaseSettings())))


if __name__ == "__main__":
    raise SystemExit(main())
