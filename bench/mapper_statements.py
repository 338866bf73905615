"""What PostgreSQL spends on each statement of the mapper's batches of source changes, in one process.

The bench's organization changes (`bench_mapper_apply.change`) are decoded, then applied through the
mapper's own handlers (`source_changed_batch`, batches of 2,000 as the consumer hands them over) on a
fresh schema. Each statement's backend CPU (asyncpg's COPY calls too, labelled `COPY <table>`) is read
from its backend's `/proc/<pid>/schedstat` before and after it (so only when PostgreSQL runs on this
machine), its client CPU (asyncpg's side of the call) from this process's, its WAL from
`pg_stat_statements`. Figures are per record applied: the server's own CPU
and WAL, so a figure taken on a busy machine still compares (the load is printed beside it; compare
alternating runs). Not part of `make bench`; run it as

    PYTHONPATH=.:libs:services:bench python bench/mapper_statements.py [records]

with DATABASE_URL set, before and after a change to the mapper's statements or tables. `VARIANT_SQL`
(statements run in the fresh schema after its migrations, e.g. `DROP INDEX links_by_abm_id`) measures a
table change before writing its migration; `JSON_OUT` (a path) also writes the figures as JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pg_statements
from bench_mapper_apply import change

from mapper.bootstrap import build_handlers, install_tables
from postgres_store.pool import create_pool
from schemas.codec import decode_event
from schemas.topics import SOURCE_CHANGES
from stream_runner.messages import IncomingMessage

DSN = os.environ.get("DATABASE_URL", "postgresql://psync:psync@127.0.0.1:55432/psync")
BATCH = 2_000
CALLS = ("execute", "fetch", "fetchval", "fetchrow")
COPIES = ("copy_records_to_table", "copy_to_table")
"""asyncpg's COPY calls, labelled by their table (their first argument)."""


def backend_ns(pid: int) -> int:
    """The CPU time a backend has run so far, in nanoseconds (its schedstat's first field)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


class Spent:
    """Backend and client CPU by statement (its text's start), taken around asyncpg's calls while on."""

    def __init__(self) -> None:
        self.server_ns: dict[str, int] = defaultdict(int)
        self.client_s: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False

    def wrap(self, name: str) -> None:
        original: Callable[..., Awaitable[Any]] = getattr(asyncpg.Connection, name)
        spent = self

        async def timed(conn: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            if not spent.on:
                return await original(conn, query, *args, **kwargs)
            pid = conn.get_server_pid()
            server, client = backend_ns(pid), time.process_time()
            try:
                return await original(conn, query, *args, **kwargs)
            finally:
                label = f"COPY {query}" if name in COPIES else " ".join(query.split())[:100]
                spent.server_ns[label] += backend_ns(pid) - server
                spent.client_s[label] += time.process_time() - client
                spent.calls[label] += 1

        setattr(asyncpg.Connection, name, timed)


async def measure(records: int) -> dict[str, Any]:
    tenant, schema = f"stmts{uuid.uuid4().hex[:8]}", f"bench_mapper_stmts_{uuid.uuid4().hex[:8]}"
    spent = Spent()
    for name in (*CALLS, *COPIES):
        spent.wrap(name)
    pool = await create_pool(DSN, min_size=1, max_size=1)
    try:
        await install_tables(pool, schema)
        if variant := os.environ.get("VARIANT_SQL"):
            await pool.execute(f"SET search_path TO {schema}; {variant}; RESET search_path")
        handlers = build_handlers(pool, schema)
        items = []
        for n in range(records):
            key, value = change(tenant, n)
            message = IncomingMessage(SOURCE_CHANGES.name, 0, n, key, value)
            items.append((decode_event(SOURCE_CHANGES.name, value), message))
        gc.collect()
        gc.freeze()
        load = os.getloadavg()[0]
        statements_before = await pg_statements.snapshot(pool)
        spent.on = True
        cpu = time.process_time()
        for start in range(0, records, BATCH):
            await handlers.source_changed_batch(items[start : start + BATCH])
        cpu = time.process_time() - cpu
        spent.on = False
        statements_after = await pg_statements.snapshot(pool)
        sizes = {
            table: await pool.fetchval("SELECT pg_total_relation_size($1::regclass)", f"{schema}.{table}")
            for table in ("inbox", "accounts", "links")
        }
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
    wal = None
    if statements_before is not None and statements_after is not None:
        wal = {
            " ".join(s.query.split())[:100].replace(f"{schema}.", "").replace(f'"{schema}".', ""): s.wal_bytes
            / records
            for s in pg_statements.spent(statements_before, statements_after)
            if s.wal_bytes and (f"{schema}." in s.query or f'"{schema}".' in s.query)
        }
    return {
        "records": records,
        "load_average_1m": [round(load, 1), round(os.getloadavg()[0], 1)],
        "mapper_cpu_us_per_record": cpu / records * 1e6,
        "backend_cpu_us_per_record": sum(spent.server_ns.values()) / records / 1e3,
        "statements_client_cpu_us_per_record": sum(spent.client_s.values()) / records * 1e6,
        "wal_bytes_per_record": None if wal is None else sum(wal.values()),
        "table_bytes_per_record": {table: size / records for table, size in sizes.items()},
        "statements": [
            {
                "statement": label.replace(f"{schema}.", ""),
                "calls": spent.calls[label],
                "backend_cpu_us_per_record": spent.server_ns[label] / records / 1e3,
                "client_cpu_us_per_record": spent.client_s[label] / records * 1e6,
            }
            for label in sorted(spent.server_ns, key=lambda k: -spent.server_ns[k])
        ],
        "wal_bytes_per_record_by_statement": wal,
    }


def main(records: int) -> None:
    figures = asyncio.run(measure(records))
    if out := os.environ.get("JSON_OUT"):
        Path(out).write_text(json.dumps(figures, indent=1))
    print(
        f"{figures['records']} records, load {figures['load_average_1m']}: mapper"
        f" {figures['mapper_cpu_us_per_record']:.1f} us CPU per record (statements' client side"
        f" {figures['statements_client_cpu_us_per_record']:.1f}), PostgreSQL backend"
        f" {figures['backend_cpu_us_per_record']:.1f} us,"
        f" WAL {figures['wal_bytes_per_record'] or 0:.0f} bytes"
    )
    for s in figures["statements"]:
        print(
            f"  {s['backend_cpu_us_per_record']:6.2f} backend {s['client_cpu_us_per_record']:5.2f} client"
            f" {s['calls']:4d}x {s['statement']}"
        )
    for statement, wal in (figures["wal_bytes_per_record_by_statement"] or {}).items():
        print(f"  WAL {wal:6.0f} {statement}")
    sizes = {table: round(size) for table, size in figures["table_bytes_per_record"].items()}
    print("table and index bytes per record:", sizes)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
