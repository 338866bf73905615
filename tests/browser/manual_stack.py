"""A browser-test stack to look at by hand: `python -m tests.browser.manual_stack` starts the sandbox and
every service on free ports (as the browser tests do), makes a tenant with an admin and a viewer, prints
the console's URL and the logins, and runs until interrupted. Uses KAFKA_BOOTSTRAP and DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import tempfile
from pathlib import Path

from postgres_store.pool import create_pool
from tests.browser.stack import BROWSER_SANDBOX, running_stack


async def main() -> None:
    """Start, print, wait for SIGINT or SIGTERM, stop."""
    for name in ("PSYNC_CREDENTIALS_KEY", "CONSOLE_SERVICE_KEYS_KEY"):  # as tests/conftest.py does
        os.environ.setdefault(name, secrets.token_hex(32))
    pool = await create_pool(os.environ["DATABASE_URL"], max_size=4)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    logs = Path(tempfile.mkdtemp(prefix="console-stack-"))
    try:
        async with running_stack(pool, os.environ["KAFKA_BOOTSTRAP"], BROWSER_SANDBOX, logs) as stack:
            tenant = await stack.new_tenant()
            print(f"console  {stack.console.url}/", flush=True)
            print(f"admin    {tenant.admin.email} {tenant.admin.password}", flush=True)
            print(f"viewer   {tenant.viewer.email} {tenant.viewer.password}", flush=True)
            print(f"tenant   {tenant.tenant_id} key {tenant.api_key}", flush=True)
            print(f"sandbox  {stack.sandbox.base_url} token {stack.sandbox.api_token}", flush=True)
            for name, process in [("connector", stack.connector), *stack.consumers.items()]:
                print(f"{name:9}{process.url} schema itest_{name}_b{stack.uid}", flush=True)
            print(f"logs     {logs}", flush=True)
            await stop.wait()
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
