"""`python -m tenant_auth`: the admin command that creates tenants and their API keys.

    python -m tenant_auth create-tenant acme "Acme Inc."
    python -m tenant_auth issue-key acme [--label console]
    python -m tenant_auth revoke-key acme <key id>

Reads DATABASE_URL. A new key is printed once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from postgres_store.pool import create_pool
from tenant_auth.registry import TenantRegistry


class AdminSettings(BaseSettings):
    """Where the tenant registry lives."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://psync:psync@127.0.0.1:55432/psync"), validation_alias="DATABASE_URL"
    )


async def run(args: argparse.Namespace, settings: AdminSettings) -> int:
    """Carry out one admin command."""
    pool = await create_pool(settings.database_url.get_secret_value(), max_size=2)
    try:
        registry = TenantRegistry(pool)
        await registry.install()
        if args.command == "create-tenant":
            await registry.create_tenant(args.tenant, args.name or args.tenant)
            key = await registry.issue_key(args.tenant, "initial")
            print(f"tenant {args.tenant} ready; API key (shown once): {key.full_key}")
        elif args.command == "issue-key":
            key = await registry.issue_key(args.tenant, args.label)
            print(f"API key for {args.tenant} (shown once): {key.full_key}")
        elif not await registry.revoke_key(args.tenant, args.key_id):
            print(f"no active key {args.key_id} for tenant {args.tenant}", file=sys.stderr)
            return 1
        return 0
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m tenant_auth")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-tenant", help="register a tenant and print its first API key")
    create.add_argument("tenant")
    create.add_argument("name", nargs="?")
    issue = commands.add_parser("issue-key", help="print a new API key for a tenant")
    issue.add_argument("tenant")
    issue.add_argument("--label")
    revoke = commands.add_parser("revoke-key", help="revoke one API key")
    revoke.add_argument("tenant")
    revoke.add_argument("key_id")
    return asyncio.run(run(parser.parse_args(argv), AdminSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
