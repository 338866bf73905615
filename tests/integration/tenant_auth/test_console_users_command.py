"""`python -m tenant_auth` manages console users: add (password printed once, or read from stdin),
list, reset the password, remove; hashes only in the database."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from tenant_auth.__main__ import main
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUsers
from tests.support.commands import run_module

pytestmark = pytest.mark.integration


InProcessCommand = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcessCommand:
    """The command's own `main` without starting an interpreter (its own loop, in a thread): for the
    cases whose point is the answer, not the entry point (which `run_module` exercises once)."""

    async def command(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = await asyncio.to_thread(main, list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return command


@pytest.fixture
async def tenant(pg_pool: asyncpg.Pool) -> str:
    registry = TenantRegistry(pg_pool)
    await registry.install()
    tenant_id = f"u{uuid.uuid4().hex[:8]}"
    await registry.create_tenant(tenant_id, tenant_id)
    return tenant_id


async def test_users_are_added_listed_reset_and_removed(
    tenant: str, pg_pool: asyncpg.Pool, in_process: InProcessCommand
) -> None:
    users = ConsoleUsers(pg_pool)
    # The entry point itself (`python -m tenant_auth`) once; the other steps through its `main` in this
    # process (an interpreter started for each took about 2 s of the test's 11 s apiece).
    added = await run_module("tenant_auth", "add-user", tenant, f"Ann@{tenant}.Example", "--role", "admin")
    assert added.status == 0, added.stderr
    printed = re.search(r"password \(shown once\): (\S+)", added.stdout)
    assert printed is not None
    assert await users.authenticate(f"ann@{tenant}.example", printed[1]) is not None
    code, _, _ = await in_process(
        "add-user", tenant, f"vic@{tenant}.example", "--role", "viewer", "--password-stdin",
        stdin="a chosen password\n",
    )  # fmt: skip
    assert code == 0

    code, out, _ = await in_process("list-users", tenant)
    assert [line.split("\t")[:2] for line in out.splitlines()] == [
        [f"ann@{tenant}.example", "admin"],
        [f"vic@{tenant}.example", "viewer"],
    ]

    code, out, _ = await in_process("reset-password", tenant, f"ann@{tenant}.example")
    new = re.search(r"password \(shown once\): (\S+)", out)
    assert code == 0 and new is not None
    assert await users.authenticate(f"ann@{tenant}.example", printed[1]) is None
    assert await users.authenticate(f"ann@{tenant}.example", new[1]) is not None

    code, _, _ = await in_process("remove-user", tenant, f"vic@{tenant}.example")
    assert code == 0
    assert [u.email for u in await users.list(tenant)] == [f"ann@{tenant}.example"]
    stored = await pg_pool.fetchval(
        "SELECT password_hash FROM tenant_auth.console_users WHERE email = $1", f"ann@{tenant}.example"
    )
    assert stored.startswith("$argon2id$") and new[1] not in stored


async def test_bad_requests_fail_with_a_sentence_and_change_nothing(
    tenant: str, in_process: InProcessCommand
) -> None:
    assert await in_process("add-user", "no-such-tenant", "x@example.com", "--role", "admin") == (
        1, "", "no tenant no-such-tenant\n",
    )  # fmt: skip
    code, _, err = await in_process(
        "add-user", tenant, "x@example.com", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert (code, err) == (1, "a password needs at least 12 characters\n")
    code, _, err = await in_process("remove-user", tenant, "x@example.com")
    assert (code, err) == (1, f"no console user x@example.com in tenant {tenant}\n")
    code, _, err = await in_process("reset-password", tenant, "x@example.com")
    assert (code, err) == (1, f"no console user x@example.com in tenant {tenant}\n")


async def test_an_email_signs_in_to_one_tenant_only(
    tenant: str, pg_pool: asyncpg.Pool, in_process: InProcessCommand
) -> None:
    other = f"u{uuid.uuid4().hex[:8]}"
    await TenantRegistry(pg_pool).create_tenant(other, other)
    email = f"{uuid.uuid4().hex[:6]}@example.com"
    assert (await in_process("add-user", tenant, email, "--role", "admin"))[0] == 0

    code, _, err = await in_process("add-user", other, email, "--role", "viewer")

    assert (code, err) == (1, f"{email} is already a console user\n")
