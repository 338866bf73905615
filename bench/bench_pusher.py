"""Benchmark: the pusher writing reveals into the sandbox.

1. Tokens: 10,000 reveal events for 2,000 companies (each company revealed 5 times; one company in five is
   renamed from its fourth reveal on, and the tenant maps the name with Overwrite) through the pusher's
   handlers on real PostgreSQL, 4 workers split by company as Kafka partitions would. Goal: <= 5 tokens
   per changed record
   (one write), 0 for unchanged ones.
2. Latency: new companies revealed at 20 per second for 20 s on real Kafka, pushed by `python -m pusher`
   as a process, under the Lite OAuth burst limit (80 requests / 2 s, enforced by the sandbox). Latency is
   from the producer's send to the sandbox receiving the create. Goal: p99 <= 1 s.

Writes `bench-results/pusher.json`. Needs KAFKA_BOOTSTRAP and DATABASE_URL (set by `make bench`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from report import write_report
from service_process import TOPICS, free_port, position_group_at_end

from pipedrive_client import (
    ApiDomainPolicy,
    OAuthApp,
    OAuthCredentials,
    PipedriveClientFactory,
    Plan,
    install_schema,
)
from pipedrive_sandbox import Plan as SandboxPlan
from pipedrive_sandbox import SandboxConfig, create_app
from pipedrive_sandbox.app_keys import STATE
from postgres_store.pool import create_pool
from pusher.bootstrap import build_handlers, install_tables
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.events.settings import (
    AutoPush,
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    ObjectSettings,
    TenantSettings,
)
from schemas.keys import record_key, settings_key
from schemas.topics import COMPANY_REVEALED, PUSH_RESULTS, SETTINGS
from stream_runner.messages import IncomingMessage

ROOT = Path(__file__).resolve().parents[1]
RESULT_NAME = "pusher"
COMPANIES = int(os.environ.get("BENCH_COMPANIES", "2000"))
REVEALS_PER_COMPANY, WORKERS = 5, 4
RATE, SECONDS = 20, 20
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
REDIRECT = "https://abm.example/cb"

SETTINGS_OF_BENCH = TenantSettings(
    version=1,
    objects={
        SyncObject.ORGANIZATION: ObjectSettings(
            directions=DirectionSwitches(create_in_pipedrive=True, update_in_pipedrive=True),
            fields=(
                FieldMapping(abm_field="name", pipedrive_field="name", to_pipedrive=FieldMode.OVERWRITE),
                FieldMapping(abm_field="website", pipedrive_field="website", to_pipedrive=FieldMode.FILL),
            ),
        )
    },
    auto_push=AutoPush(enabled=True),
    connected=True,
)


def _oauth_app(state: Any, base_url: str) -> OAuthApp:
    config = state.config
    return OAuthApp(config.oauth_client_id, SecretStr(config.oauth_client_secret), REDIRECT, base_url)


def _timing_middleware(writes: dict[str, float]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if request.method == "POST" and request.path == "/api/v2/organizations":
            body = orjson.loads(await request.read())
            writes.setdefault(str(body.get("website")), time.time())
        return await handler(request)

    return record


async def _start_sandbox(writes: dict[str, float]) -> tuple[web.AppRunner, str, Any]:
    app = create_app(
        SandboxConfig(plan=SandboxPlan.LITE, seats=5, organizations=0, persons_per_organization=0)
    )
    app.middlewares.append(_timing_middleware(writes))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", app[STATE]


async def _connected_factory(
    session: aiohttp.ClientSession,
    pool: asyncpg.Pool,
    key: bytes,
    client_schema: str,
    state: Any,
    base_url: str,
    tenant: str,
) -> PipedriveClientFactory:
    """The Pipedrive client factory of the pusher's setup, `tenant` connected to the sandbox by OAuth."""
    factory = PipedriveClientFactory(
        session, pool, key, policy=ApiDomainPolicy((base_url,)), schema=client_schema,
        oauth_app=_oauth_app(state, base_url),
    )  # fmt: skip
    config = state.config
    redirect = state.oauth.decide(config.oauth_client_id, REDIRECT, "bench", True)
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    tokens = state.oauth.exchange_code(config.oauth_client_id, config.oauth_client_secret, code, REDIRECT)
    credentials = OAuthCredentials(
        SecretStr(tokens["access_token"]),
        SecretStr(tokens["refresh_token"]),
        time.time() + tokens["expires_in"],
        base_url,
    )
    await factory.credentials.save(tenant, credentials)
    await factory.budget.set_plan(tenant, Plan.LITE, 5)
    return factory


def _reveal(tenant: str, domain: str, name: str, n: int) -> tuple[Any, str]:
    key = record_key(tenant, SyncObject.ORGANIZATION, domain)
    payload = CompanyRevealed(domain=domain, name=name, revealed_at=NOW)
    event = build_event(payload, tenant=tenant, subject=key, source="/bench", id_parts=(key, n), time=NOW)
    return event, key


async def bench_tokens(dsn: str, key: bytes, client_schema: str) -> dict[str, Any]:
    """Part 1: tokens per changed and unchanged record."""
    pool = await create_pool(dsn, max_size=20)
    writes: dict[str, float] = {}
    runner, base_url, state = await _start_sandbox(writes)
    schema, tenant = f"bench_pusher_{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    try:
        await install_tables(pool, schema)
        async with aiohttp.ClientSession() as session:
            factory = await _connected_factory(session, pool, key, client_schema, state, base_url, tenant)
            handlers = build_handlers(pool, schema, factory)
            settings = build_event(
                SETTINGS_OF_BENCH, tenant=tenant, subject=tenant, source="/b", id_parts=(1,), time=NOW
            )
            await handlers.batch_handlers()["psync.settings.updated"](
                [(settings, IncomingMessage(SETTINGS.name, 0, 0, None, None))]
            )
            results: list[dict[str, Any]] = []
            handle = handlers.by_event_type()["abm.company.revealed"]

            async def worker(index: int) -> None:
                for round_ in range(REVEALS_PER_COMPANY):
                    for company in range(index, COMPANIES, WORKERS):
                        renamed = round_ >= 3 and company % 5 == 0
                        name = f"Company {company}" + (" Group" if renamed else "")
                        event, _ = _reveal(tenant, f"company{company}.io", name, round_)
                        message = IncomingMessage(COMPANY_REVEALED.name, index, round_, None, None)
                        handled = await handle(event, message)
                        # One push result per record; the window's first push also starts its run.
                        results.extend(
                            orjson.loads(m.value)["data"]
                            for m in handled.outputs
                            if m.topic == PUSH_RESULTS.name
                        )

            started = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(WORKERS)))
            elapsed = time.perf_counter() - started
        changed = [r for r in results if r["outcome"] in ("created", "updated")]
        unchanged = [r for r in results if r["outcome"] == "unchanged"]
        ledger = state.ledger.summary()
        failures = sorted({str(r["message"]) for r in results if r["outcome"] == "failed"})
        return {
            "failure_messages": failures[:5],
            "events": COMPANIES * REVEALS_PER_COMPANY,
            "companies": COMPANIES,
            "created": sum(1 for r in changed if r["outcome"] == "created"),
            "updated": sum(1 for r in changed if r["outcome"] == "updated"),
            "unchanged": len(unchanged),
            "failed": sum(1 for r in results if r["outcome"] == "failed"),
            "tokens_per_changed_record": round(
                sum(r["tokens_spent"] for r in changed) / max(len(changed), 1), 3
            ),
            "tokens_per_unchanged_record": round(
                sum(r["tokens_spent"] for r in unchanged) / max(len(unchanged), 1), 3
            ),
            "sandbox_ledger_tokens": ledger["tokens"],
            "sandbox_ledger_calls": ledger["calls"],
            "organizations_in_sandbox": len(state.tables[next(iter(state.tables))].records),
            "seconds": round(elapsed, 2),
            "events_per_second": round(COMPANIES * REVEALS_PER_COMPANY / elapsed, 1),
        }
    finally:
        await runner.cleanup()
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


async def bench_latency(dsn: str, bootstrap: str, key: bytes, client_schema: str) -> dict[str, Any]:
    """Part 2: event -> Pipedrive write latency at 20 reveals/s through Kafka and the pusher process."""
    pool = await create_pool(dsn, max_size=4)
    writes: dict[str, float] = {}
    runner, base_url, state = await _start_sandbox(writes)
    uid = uuid.uuid4().hex[:8]
    schema, tenant = f"bench_pusher_{uid}", f"bench-{uid}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
    await producer.start()
    env = {
        **os.environ,
        "PUSHER_GROUP_ID": f"bench-pusher-{uid}",
        "PUSHER_DB_SCHEMA": schema,
        "PUSHER_HTTP_PORT": str(free_port()),
        "PSYNC_CREDENTIALS_KEY": key.hex(),
        "PIPEDRIVE_CLIENT_SCHEMA": client_schema,
        "PIPEDRIVE_ALLOWED_TEST_URLS": base_url,
        "PUSHER_LOG_LEVEL": "WARNING",
        "PIPEDRIVE_OAUTH_CLIENT_ID": state.config.oauth_client_id,
        "PIPEDRIVE_OAUTH_CLIENT_SECRET": state.config.oauth_client_secret,
        "PIPEDRIVE_OAUTH_REDIRECT_URI": REDIRECT,
        "PIPEDRIVE_OAUTH_BASE_URL": base_url,
        "PUSHER_LOG_JSON": "true",
    }
    await position_group_at_end(bootstrap, f"bench-pusher-{uid}", "pusher")
    log = (ROOT / ".state" / f"bench-pusher-{uid}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pusher", env=env, stdout=log, stderr=log
    )
    sent: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            await _connected_factory(session, pool, key, client_schema, state, base_url, tenant)
        settings = build_event(
            SETTINGS_OF_BENCH,
            tenant=tenant,
            subject=settings_key(tenant),
            source="/b",
            id_parts=(uid,),
            time=NOW,
        )
        await producer.send_and_wait(TOPICS.topic(SETTINGS.name), encode_event(settings), key=tenant.encode())
        # Warm-up: the consumer has joined once the first reveal is written.
        warm, warm_key = _reveal(tenant, f"warm-{uid}.io", "Warm", 0)
        await producer.send_and_wait(
            TOPICS.topic(COMPANY_REVEALED.name), encode_event(warm), key=warm_key.encode()
        )
        deadline = time.time() + 90
        while f"warm-{uid}.io" not in writes and time.time() < deadline:  # noqa: ASYNC110  # a bench poll
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        for n in range(RATE * SECONDS):
            domain = f"live{n}-{uid}.io"
            event, event_key = _reveal(tenant, domain, f"Live {n}", 0)
            sent[domain] = time.time()
            await producer.send(
                TOPICS.topic(COMPANY_REVEALED.name), encode_event(event), key=event_key.encode()
            )
            await asyncio.sleep(max(0.0, started + (n + 1) / RATE - time.perf_counter()))
        deadline = time.time() + 30
        while not all(d in writes for d in sent) and time.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        process.terminate()
        await process.wait()
        log.close()
        await producer.stop()
        await runner.cleanup()
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    latencies = sorted(writes[d] - sent[d] for d in sent if d in writes)
    rejected = sum(1 for e in state.ledger.entries if e.status == 429)
    return {
        "reveals_per_second": RATE,
        "seconds": SECONDS,
        "events": len(sent),
        "written": len(latencies),
        "burst_limit": "Lite OAuth: 80 requests / 2 s (enforced by the sandbox)",
        "answers_429": rejected,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }


async def main() -> None:
    dsn = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    key = os.urandom(32)
    pool = await create_pool(dsn, max_size=2)
    client_schema = f"bench_pdc_{uuid.uuid4().hex[:8]}"
    await install_schema(pool, client_schema)
    try:
        tokens = await bench_tokens(dsn, key, client_schema)
        print("tokens:", tokens, flush=True)
        if os.environ.get("BENCH_SKIP_LATENCY"):
            return
        latency = await bench_latency(dsn, bootstrap, key, client_schema)
        print("latency:", latency, flush=True)
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {client_schema} CASCADE")
        await pool.close()
    tokens_met = tokens["tokens_per_changed_record"] <= 5 and tokens["tokens_per_unchanged_record"] == 0
    p99 = latency["p99_ms"]
    latency_met = p99 is not None and p99 <= 1000 and latency["written"] == latency["events"]
    report = {
        "benchmark": "pusher",
        "tokens": {
            **tokens,
            "goal_tokens_per_changed_record": 5,
            "goal_tokens_per_unchanged_record": 0,
            "goal_met": tokens_met,
        },
        "latency": {**latency, "goal_p99_ms": 1000, "goal_met": latency_met},
    }
    write_report(RESULT_NAME, report)


if __name__ == "__main__":
    asyncio.run(main())
