"""`python -m tenant_auth`: the admin command for tenants, their API keys and their console users.

    python -m tenant_auth create-tenant acme "Acme Inc."
    python -m tenant_auth issue-key acme [--label console] [--actor WHO]
    python -m tenant_auth revoke-key acme <key id> [--actor WHO]
    python -m tenant_auth add-user acme ann@acme.example --role admin|viewer [--password-stdin]
    python -m tenant_auth list-users acme
    python -m tenant_auth remove-user acme ann@acme.example
    python -m tenant_auth reset-password acme ann@acme.example [--password-stdin]

Reads DATABASE_URL. A new key, and a password the command made up, is printed once; only hashes are
stored. With --password-stdin the password is read from the first line of standard input instead.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import asyncpg
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from postgres_store.pool import create_pool
from tenant_auth.passwords import WeakPassword, new_password
from tenant_auth.registry import InvalidTenantId, TenantRegistry
from tenant_auth.users import ConsoleUsers, EmailTaken, Role, UnknownTenant


class AdminSettings(BaseSettings):
    """Where the tenant registry lives."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://psync:psync@127.0.0.1:55432/psync"), validation_alias="DATABASE_URL"
    )


class CommandFailed(Exception):
    """A command that could not be carried out, with the sentence to print."""


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, whether the command made it up and must show it)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return new_password(), True


async def _key_command(args: argparse.Namespace, registry: TenantRegistry) -> None:
    if args.command == "create-tenant":
        try:
            await registry.create_tenant(args.tenant, args.name or args.tenant)
        except InvalidTenantId as invalid:
            raise CommandFailed(str(invalid)) from invalid
        key = await registry.issue_key(args.tenant, "initial", args.actor)
        print(f"tenant {args.tenant} ready; API key (shown once): {key.full_key}")
    elif args.command == "issue-key":
        key = await registry.issue_key(args.tenant, args.label, args.actor)
        print(f"API key for {args.tenant} (shown once): {key.full_key}")
    elif not await registry.revoke_key(args.tenant, args.key_id, args.actor):
        raise CommandFailed(f"no active key {args.key_id} for tenant {args.tenant}")


async def _user_command(args: argparse.Namespace, users: ConsoleUsers) -> None:
    if args.command == "list-users":
        for user in await users.list(args.tenant):
            print(f"{user.email}\t{user.role.value}\tsince {user.created_at:%Y-%m-%d}")
    elif args.command == "remove-user":
        if not await users.remove(args.tenant, args.email):
            raise CommandFailed(f"no console user {args.email} in tenant {args.tenant}")
        print(f"removed {args.email}; their console sessions have ended")
    else:
        password, made_up = _password(args)
        try:
            if args.command == "add-user":
                await users.add(args.tenant, args.email, Role(args.role), password)
                done = f"console user {args.email} ({args.role}) added to tenant {args.tenant}"
            elif await users.reset_password(args.tenant, args.email, password):
                done = f"new password for {args.email}; their console sessions have ended"
            else:
                raise CommandFailed(f"no console user {args.email} in tenant {args.tenant}")
        except (UnknownTenant, EmailTaken, WeakPassword) as failure:
            raise CommandFailed(str(failure)) from failure
        print(done + (f"; password (shown once): {password}" if made_up else ""))


async def run(args: argparse.Namespace, settings: AdminSettings) -> int:
    """Carry out one admin command; 1 with a message on standard error when it cannot be done."""
    pool: asyncpg.Pool = await create_pool(settings.database_url.get_secret_value(), max_size=2)
    try:
        registry = TenantRegistry(pool)
        await registry.install()
        if args.command in {"create-tenant", "issue-key", "revoke-key"}:
            await _key_command(args, registry)
        else:
            await _user_command(args, ConsoleUsers(pool))
        return 0
    except CommandFailed as failure:
        print(failure, file=sys.stderr)
        return 1
    finally:
        await pool.close()


def _operator() -> str:
    return f"operator {getpass.getuser()}"


def _parser() -> argparse.ArgumentParser:
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
    for keyed in (create, issue, revoke):
        keyed.add_argument(
            "--actor", default=_operator(), help="who does it, for the audit entries (default: the OS user)"
        )
    add = commands.add_parser("add-user", help="add a console user (prints a new password once)")
    add.add_argument("tenant")
    add.add_argument("email")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    listing = commands.add_parser("list-users", help="the tenant's console users and their roles")
    listing.add_argument("tenant")
    remove = commands.add_parser("remove-user", help="remove a console user (their sessions end)")
    remove.add_argument("tenant")
    remove.add_argument("email")
    reset = commands.add_parser("reset-password", help="a new password for a console user (printed once)")
    reset.add_argument("tenant")
    reset.add_argument("email")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    return asyncio.run(run(_parser().parse_args(argv), AdminSettings()))


if __name__ == "__main__":
    raise SystemExit(main())
