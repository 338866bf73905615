"""The demo `make up` runs: a demo tenant connected to the sandbox, a first sync, and a stream of reveals.

    demo.py setup     create tenant `demo` (API key into .state/demo-api-key) and its console admin
                      admin@demo.example (password into .state/console-login), connect the connector to the
                      sandbox with the sandbox's API token, save settings (both ways, auto-push on), sync now
    demo.py reveals   publish a website-visitor reveal (and now and then a score change) every few seconds
                      on the external `abm.*` topics, as the visitor-identification platform would; stops
                      on SIGTERM

Reads KAFKA_BOOTSTRAP, DATABASE_URL and the local ports; a script, not a service: it only drives the
product through its public surfaces (the connector's HTTP API and the documented topics).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer

from postgres_store.pool import create_pool
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged, VisitedPage
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import COMPANY_REVEALED, SCORE_CHANGED
from stream_runner.namespace import TopicNamespace
from tenant_auth.passwords import new_password
from tenant_auth.registry import TenantRegistry
from tenant_auth.users import ConsoleUsers, Role

ROOT = Path(__file__).resolve().parents[2]
KEY_FILE = ROOT / ".state" / "demo-api-key"
LOGIN_FILE = ROOT / ".state" / "console-login"
TENANT = "demo"
DEMO_ADMIN = "admin@demo.example"
CONNECTOR = f"http://127.0.0.1:{os.environ.get('CONNECTOR_HTTP_PORT', '8081')}"
SANDBOX = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8765')}"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")
DSN = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
COMPANIES = [
    ("Northwind Traders", "northwind.example.com"),
    ("Globex Corporation", "globex.io"),
    ("Initech", "initech.dev"),
    ("Umbrella Labs", "umbrella-labs.co.uk"),
    ("Stark Industries", "stark.industries"),
]
PAGES = ["/pricing", "/product/abm", "/customers", "/blog/intent-data", "/demo"]


async def demo_key() -> str:
    """The demo tenant's API key (created once, kept in .state/)."""
    if KEY_FILE.exists():
        return KEY_FILE.read_text().strip()
    pool = await create_pool(DSN, max_size=2)
    try:
        registry = TenantRegistry(pool)
        await registry.install()
        await registry.create_tenant(TENANT, "Demo tenant")
        key = await registry.issue_key(TENANT, "demo")
    finally:
        await pool.close()
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.write_text(key.full_key + "\n")
    KEY_FILE.chmod(0o600)
    return key.full_key


async def demo_admin() -> None:
    """The demo tenant's console admin (password kept in .state/console-login, made up once)."""
    password = LOGIN_FILE.read_text().split()[-1] if LOGIN_FILE.exists() else new_password()
    pool = await create_pool(DSN, max_size=2)
    try:
        users = ConsoleUsers(pool)
        if await users.get(DEMO_ADMIN) is None:
            await users.add(TENANT, DEMO_ADMIN, Role.ADMIN, password)
        elif not LOGIN_FILE.exists():
            await users.reset_password(TENANT, DEMO_ADMIN, password)
    finally:
        await pool.close()
    LOGIN_FILE.write_text(f"{DEMO_ADMIN} {password}\n")
    LOGIN_FILE.chmod(0o600)


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, key: str, body: object = None
) -> object:
    async with session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        answer = await response.json(content_type=None)
        if response.status >= 400:
            raise SystemExit(f"{method} {url} -> {response.status}: {answer}")
        return answer


async def setup() -> None:
    """Connect the demo tenant to the sandbox and start a first sync."""
    key = await demo_key()
    await demo_admin()
    async with aiohttp.ClientSession() as session:
        await connect_and_sync(session, CONNECTOR, SANDBOX, key)
    print(f"demo tenant `{TENANT}` connected to the sandbox; API key in {KEY_FILE.relative_to(ROOT)}")


async def connect_and_sync(session: aiohttp.ClientSession, connector: str, sandbox: str, key: str) -> None:
    """The demo's connection: the sandbox's API token, settings both ways with auto-push, a first sync
    (also what bench/bench_console_pages.py loads its tenant with)."""
    async with session.get(f"{sandbox}/_sandbox/state") as response:
        state = await response.json()
    token = state["users"][0]["api_token"]
    await _call(session, "POST", f"{connector}/v1/connection/api-token", key,
                {"api_token": token, "api_base_url": sandbox})  # fmt: skip
    both_ways = {
        "create_in_pipedrive": True, "update_in_pipedrive": True,
        "create_in_abm": True, "update_in_abm": True,
    }  # fmt: skip
    settings = {
        "objects": {obj.value: {"directions": both_ways} for obj in SyncObject},
        "frequency": "1h",
        "auto_push": {"enabled": True, "score_threshold": 10},
    }
    await _call(session, "PUT", f"{connector}/v1/settings", key, settings)
    await _call(session, "POST", f"{connector}/v1/sync", key)


async def reveals(interval_s: float) -> None:
    """Publish reveals and score changes until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True)
    topics = TopicNamespace.from_environment()  # the deployment's PSYNC_TOPIC_PREFIX, as the services
    await producer.start()
    scores = dict.fromkeys((d for _, d in COMPANIES), 20)
    sequence = 0
    try:
        while not stop.is_set():
            sequence += 1
            name, domain = random.choice(COMPANIES)
            now = datetime.now(UTC)
            page = VisitedPage(url=f"https://abm-customer.example{random.choice(PAGES)}", visited_at=now)
            subject = record_key(TENANT, SyncObject.ORGANIZATION, domain)
            reveal = CompanyRevealed(domain=domain, name=name, revealed_at=now, pages=(page,))
            event = build_event(reveal, tenant=TENANT, subject=subject, source="/demo/visitor-platform",
                                id_parts=("reveal", domain, now.isoformat()), time=now)  # fmt: skip
            await producer.send_and_wait(
                topics.topic(COMPANY_REVEALED.name), encode_event(event), key=subject.encode()
            )
            if sequence % 3 == 0:
                previous, scores[domain] = scores[domain], min(100, scores[domain] + random.randint(5, 20))
                change = ScoreChanged(
                    domain=domain, score=scores[domain], previous_score=previous, changed_at=now
                )
                event = build_event(change, tenant=TENANT, subject=subject, source="/demo/visitor-platform",
                                    id_parts=("score", domain, now.isoformat()), time=now)  # fmt: skip
                await producer.send_and_wait(
                    topics.topic(SCORE_CHANGED.name), encode_event(event), key=subject.encode()
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        await producer.stop()


def main() -> int:
    """Run one demo command."""
    parser = argparse.ArgumentParser(prog="deploy/local/demo.py")
    parser.add_argument("command", choices=["setup", "reveals"])
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between reveals")
    args = parser.parse_args()
    asyncio.run(setup() if args.command == "setup" else reveals(args.interval))
    return 0


if __name__ == "__main__":
    sys.exit(main())
