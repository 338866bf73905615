"""What the pusher's source-change path costs per record, in the pusher and in PostgreSQL, in one process.

Organizations shaped as the sandbox lists them (`pipedrive_sandbox.seed`'s website shapes, 8% without a
website) are encoded as the connector encodes its source changes and decoded up front (decoding is not
measured here), then handed to the pusher's own handler (`SourceChanges.source_changed_batch`, batches of
2,000 as the consumer hands them over) on a fresh schema: first as an import (every row new), then the same
batches again (a redelivery: nothing is written). Per record: this process's CPU over the handler calls
(the match key, the echo check, the mirror's rows and statements, asyncpg), the backend's (one pooled
connection; its `/proc/<pid>/schedstat`, so only when PostgreSQL runs on this machine) and the WAL of the
schema's statements (`pg_stat_statements`). Server-side figures are the server's own, so a figure taken on
a busy machine still compares; the client's inflates with the load (printed beside it): compare
alternating runs. Not part of `make bench`; run it as

    PYTHONPATH=.:libs:services:bench python bench/pusher_statements.py [records] [batch] [import,redelivery]

with DATABASE_URL set (another checkout's code: put its directories first on PYTHONPATH).
`VARIANT_SQL` (statements run in the fresh schema after its migrations) measures a table change before
writing its migration.

`MIRROR_AGAINST=<another mirror_store.py>` measures the mirror's write alone instead, two implementations
in this one process: this checkout's `PostgresMirror.apply_changes` and the other file's (loaded as a
module of its own beside this checkout's `pusher` package), each on a fresh schema and a connection of
its own, handed the import's batches in turn (which goes first alternates batch by batch), for
`MIRROR_ROUNDS` imports (3); per record, each one's client CPU and its backend's. Interleaved so, the
pair shares the machine's load, which moves separate runs by more than a change of a few µs.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pg_statements

from pipedrive_sandbox.seed import FastRandom, messy_website
from postgres_store.pool import create_pool
from pusher.bootstrap import install_tables
from pusher.mirror_store import PostgresMirror
from pusher.ports import MirrorChange
from pusher.source_changes import SourceChanges, mirrored_key
from pusher.store import PostgresPusherStore
from schemas.catalog import build_event
from schemas.codec import decode_event, encode_event
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.topics import SOURCE_CHANGES
from service_runtime.process import tune_garbage_collection
from settings_replica.replica import SettingsReplica
from stream_runner.messages import IncomingMessage
from sync_rules.domains import normalize_domain

DSN = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
RUNS = sys.argv[3].split(",") if len(sys.argv) > 3 else ["import", "redelivery"]
"""The runs measured, in order: `import` alone leaves the redelivery out (a cachegrind count of the
import's instructions per record: the difference of two record counts)."""
T0 = datetime(2026, 11, 17, 7, 45, 35, tzinfo=UTC)
WORDS = ("orbit", "mesa", "wayne", "aperture", "falcon", "polar", "quantum", "granite", "cedar", "piper")
TLDS = ("com", "io", "de", "fr", "ee", "co.uk", "net")


def organization(rng: FastRandom, n: int) -> dict[str, Any]:
    """An organization as the sandbox lists it (API v2)."""
    domain = f"{rng.pick(WORDS)}{rng.pick(WORDS)}{n}.{rng.pick(TLDS)}"
    roll = rng.random()
    at = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": n, "name": f"Orbit Mesa Energy {n}", "owner_id": 12415231, "add_time": "2025-04-11T21:39:47Z",
        "update_time": at, "is_deleted": False, "visible_to": 3,
        "address": {"value": f"{n % 200 + 1} Main Street, Berlin, Germany", "locality": "Berlin",
                    "country": "Germany"},
        "label_ids": [], "website": None if roll < 0.08 else messy_website(rng, domain),
        "linkedin": f"https://www.linkedin.com/company/orbit-{n}" if roll > 0.6 else None,
        "industry": 10 if roll > 0.3 else None, "annual_revenue": 6990000 if roll > 0.4 else None,
        "employee_count": 1447 if roll > 0.2 else None,
        "custom_fields": {"386ecbe06b65a6a48b8148f6b38a088ca65ed389": round(rng.random() * 100, 1)},
    }  # fmt: skip


def item(tenant: str, record: dict[str, Any]) -> tuple[Any, IncomingMessage]:
    n = record["id"]
    at = datetime.fromisoformat(record["update_time"])
    change = SourceChange(
        object=SyncObject.ORGANIZATION, pipedrive_id=n, action=ChangeAction.UPSERTED, update_time=at,
        record=record, origin=ChangeOrigin.IMPORT,
    )  # fmt: skip
    key = f"{tenant}:organization:{n}"
    value = encode_event(
        build_event(change, tenant=tenant, subject=key, source="/bench", id_parts=(key, at), time=at)
    )
    return decode_event(SOURCE_CHANGES.name, value), IncomingMessage(
        SOURCE_CHANGES.name, 0, n, key.encode(), value
    )


def backend_ns(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except OSError:
        return None


async def run_batches(handler: SourceChanges, items: list[Any], pid: int) -> tuple[float, float | None]:
    """Client CPU seconds and backend CPU seconds (None when not here) of handing `items` over in batches."""
    gc.collect()
    server, client = backend_ns(pid), time.process_time()
    for start in range(0, len(items), BATCH):
        await handler.source_changed_batch(items[start : start + BATCH])
    client = time.process_time() - client
    after = backend_ns(pid)
    return client, None if server is None or after is None else (after - server) / 1e9


async def measure(records: int) -> dict[str, Any]:
    tenant, schema = f"pm{uuid.uuid4().hex[:8]}", f"bench_pusher_stmts_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(DSN, min_size=1, max_size=1)
    figures: dict[str, Any] = {"records": records}
    try:
        await install_tables(pool, schema)
        if variant := os.environ.get("VARIANT_SQL"):
            await pool.execute(f"SET search_path TO {schema}; {variant}; RESET search_path")
        handler = SourceChanges(PostgresPusherStore(pool, schema), SettingsReplica(pool, schema))
        rng = FastRandom(16)
        items = [item(tenant, organization(rng, n)) for n in range(1, records + 1)]
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        normalize_domain("warm-up.example.com")  # tldextract's list loaded, as a serving process has it
        tune_garbage_collection()
        figures["load_average_1m"] = [round(os.getloadavg()[0], 1)]
        for run in RUNS:
            before = await pg_statements.snapshot(pool)
            client, server = await run_batches(handler, items, pid)
            after = await pg_statements.snapshot(pool)
            wal = None
            if before is not None and after is not None:
                # the schema quoted too: asyncpg's COPY names the table as "schema"."mirror"
                wal = sum(s.wal_bytes for s in pg_statements.spent(before, after) if schema in s.query)
            figures[run] = {
                "pusher_cpu_us_per_record": round(client / records * 1e6, 1),
                "backend_cpu_us_per_record": None if server is None else round(server / records * 1e6, 1),
                "wal_bytes_per_record": None if wal is None else round(wal / records),
            }
        figures["load_average_1m"].append(round(os.getloadavg()[0], 1))
        figures["mirror_bytes_per_record"] = round(
            await pool.fetchval("SELECT pg_total_relation_size($1::regclass)", f"{schema}.mirror") / records
        )
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    return figures


async def compare_mirrors(records: int, against: str) -> dict[str, Any]:
    """Client and backend CPU per record of two mirror implementations, interleaved batch by batch."""
    spec = importlib.util.spec_from_file_location("mirror_against", against)
    assert spec is not None and spec.loader is not None
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    mirrors = {"this": PostgresMirror, "against": other.PostgresMirror}
    rounds = int(os.environ.get("MIRROR_ROUNDS", "3"))
    rng = FastRandom(16)
    changes: list[MirrorChange] = []
    for n in range(1, records + 1):
        change = item("pm", organization(rng, n))[0].data
        changes.append(("pm", change, mirrored_key(change, None), False))
    spent = {name: [0.0, 0.0] for name in mirrors}
    pool = await create_pool(DSN, min_size=2, max_size=2)
    schemas: list[str] = []
    figures: dict[str, Any] = {"records": records * rounds, "load_average_1m": [round(os.getloadavg()[0], 1)]}
    try:
        tune_garbage_collection()
        for round_number in range(rounds):
            on: dict[str, tuple[Any, str, int]] = {}
            for name in mirrors:
                schemas.append(f"bench_pusher_mirror_{uuid.uuid4().hex[:8]}")
                await install_tables(pool, schemas[-1])
                conn = await pool.acquire()
                on[name] = (conn, schemas[-1], await conn.fetchval("SELECT pg_backend_pid()"))
            gc.collect()
            for number, start in enumerate(range(0, records, BATCH)):
                order = list(mirrors) if (number + round_number) % 2 == 0 else list(mirrors)[::-1]
                for name in order:
                    conn, schema, pid = on[name]
                    server, client = backend_ns(pid), time.process_time()
                    async with conn.transaction():
                        await mirrors[name](conn, schema).apply_changes(changes[start : start + BATCH])
                    client, after = time.process_time() - client, backend_ns(pid)
                    spent[name][0] += client
                    spent[name][1] += 0.0 if server is None or after is None else (after - server) / 1e9
            for conn, _, _ in on.values():
                await pool.release(conn)
    finally:
        for schema in schemas:
            await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    figures["load_average_1m"].append(round(os.getloadavg()[0], 1))
    for name, (client_s, server_s) in spent.items():
        figures[name] = {
            "pusher_cpu_us_per_record": round(client_s / (records * rounds) * 1e6, 2),
            "backend_cpu_us_per_record": round(server_s / (records * rounds) * 1e6, 2),
        }
    return figures


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    if against := os.environ.get("MIRROR_AGAINST"):
        print(asyncio.run(compare_mirrors(count, against)), flush=True)
    else:
        print(asyncio.run(measure(count)), flush=True)
